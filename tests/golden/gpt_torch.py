"""A small GPT in PyTorch, saved for tests/suite/gpt_import.rs.

The model of tests/golden/gpt_model.py (tapeflow's char-GPT architecture,
examples/char_gpt.rs), built from nn.Embedding, nn.LayerNorm,
nn.MultiheadAttention(batch_first=True) and nn.Linear: token and learned position embeddings, pre-LayerNorm blocks
(x += attn(ln1(x)); x += mlp(ln2(x)), causal, GELU MLP 4x), a final
LayerNorm and an untied head. Sizes: vocabulary 11, width 16, 4 heads,
2 blocks, context 8. Random weights (seed 0), biases and LayerNorm affine
made non-trivial, float32.

Writes tests/fixtures/gpt_torch.safetensors: the state_dict plus
`input_ids` [2, 8] (as float32) and `expected_logits` [2, 8, 11].

Run from the repository root:  python3 tests/golden/gpt_torch.py
(made with torch 2.15.0, safetensors 0.8.0).
"""

import torch
from safetensors.torch import save_file

from gpt_model import Gpt  # tests/golden/gpt_model.py, beside this script

VOCAB, WIDTH, HEADS, BLOCKS, CONTEXT = 11, 16, 4, 2, 8

torch.manual_seed(0)
model = Gpt(VOCAB, WIDTH, HEADS, BLOCKS, CONTEXT).eval()
with torch.no_grad():
    for name, p in model.named_parameters():
        if name.endswith("bias") or ".ln" in name or name.startswith("ln_f"):
            p.add_(torch.randn_like(p) * 0.1)
ids = torch.randint(0, VOCAB, (2, CONTEXT))
with torch.no_grad():
    logits = model(ids)
tensors = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
tensors["input_ids"] = ids.to(torch.float32)
tensors["expected_logits"] = logits.contiguous()
save_file(tensors, "tests/fixtures/gpt_torch.safetensors")
print("wrote", len(tensors), "tensors; logits[0, 0, :3] =", logits[0, 0, :3].tolist())
