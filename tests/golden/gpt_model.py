"""The PyTorch GPT shared by tests/golden/gpt_torch.py (the import golden)
and benches/compare/gpt_torch.py (the training comparison): the
architecture of tapeflow's char-GPT (examples/char_gpt.rs).

Token and learned position embeddings (nn.Embedding), pre-LayerNorm blocks
(x += attn(ln1(x)); x += mlp(ln2(x))) with causal
nn.MultiheadAttention(batch_first=True) and a GELU MLP 4x, a final
LayerNorm and an untied head (nn.Linear). Parameter names are those
tapeflow's WeightMap import expects (tests/suite/gpt_import.rs).
"""

import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(),
                                 nn.Linear(4 * width, width))

    def forward(self, x):
        t = x.shape[1]
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=causal, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class Gpt(nn.Module):
    def __init__(self, vocab, width, heads, blocks, context):
        super().__init__()
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(blocks))
        self.ln_f = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)

    def forward(self, ids):
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_f(x))
