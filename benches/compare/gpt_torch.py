"""The char-GPT of examples/char_gpt.rs, trained the same way in PyTorch CPU.

Same model (token and learned position embeddings, width 128, context 128,
4 pre-LayerNorm blocks with nn.MultiheadAttention(batch_first=True), 4 causal
heads, GELU MLP 4x, final LayerNorm, untied head; LayerNorm eps 1e-5), same
data (data/shakespeare.txt, characters numbered in sorted order, first 90 %
train, last 10 % validation), same training (batch 16 random windows per
step, AdamW lr 1e-3, betas 0.9/0.99, eps 1e-8, weight decay 0.1 on 2-D
weights only, 2,000 steps), same report (validation loss = mean
cross-entropy in nats per character over windows laid end to end over the
validation text, every 500 steps). The random streams differ from tapeflow's
(torch.Generator vs rand's StdRng), so the losses agree statistically, not
bit for bit.

Usage: python3 benches/compare/gpt_torch.py [steps] [threads] [seed]
Prints the validation losses, training tokens/s (training steps only) and
generation characters/s (no key/value cache: a full forward over the last
128 characters per character, as nanoGPT does).
"""

import math
import os
import sys
import time

import torch
import torch.nn.functional as F

# The model is defined once, in tests/golden/gpt_model.py (also used by the
# import golden).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tests", "golden"))
from gpt_model import Gpt  # noqa: E402

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
THREADS = int(sys.argv[2]) if len(sys.argv) > 2 else torch.get_num_threads()
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else 1337
WIDTH, HEADS, BLOCKS, CONTEXT, BATCH = 128, 4, 4, 128, 16
EVAL_EVERY = min(500, STEPS)

torch.set_num_threads(THREADS)
torch.manual_seed(SEED)
text = open("data/shakespeare.txt").read()
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
split = len(data) * 9 // 10
train, val = data[:split], data[split:]
n_val = (len(val) - CONTEXT - 1) // CONTEXT + 1
val_x = torch.stack([val[i * CONTEXT:(i + 1) * CONTEXT] for i in range(n_val)])
val_y = torch.stack([val[i * CONTEXT + 1:(i + 1) * CONTEXT + 1] for i in range(n_val)])


@torch.no_grad()
def val_loss(model):
    model.eval()
    total = 0.0
    for i in range(0, n_val, 32):
        logits = model(val_x[i:i + 32])
        total += F.cross_entropy(logits.flatten(0, 1), val_y[i:i + 32].flatten(),
                                 reduction="sum").item()
    model.train()
    return total / (n_val * CONTEXT)


model = Gpt(len(chars), WIDTH, HEADS, BLOCKS, CONTEXT)
decay = [p for p in model.parameters() if p.dim() == 2]
rest = [p for p in model.parameters() if p.dim() != 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                         {"params": rest, "weight_decay": 0.0}],
                        lr=1e-3, betas=(0.9, 0.99), eps=1e-8)
print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
      f"{sum(p.numel() for p in model.parameters())} parameters, "
      f"{n_val} validation windows; step 0: val loss {val_loss(model):.4f}")
gen = torch.Generator().manual_seed(SEED)
train_secs = 0.0
for step in range(1, STEPS + 1):
    t0 = time.perf_counter()
    starts = torch.randint(0, len(train) - CONTEXT, (BATCH,), generator=gen)
    x = torch.stack([train[s:s + CONTEXT] for s in starts])
    y = torch.stack([train[s + 1:s + CONTEXT + 1] for s in starts])
    loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    train_secs += time.perf_counter() - t0
    if step % EVAL_EVERY == 0 or step == STEPS:
        print(f"step {step}: train loss {loss.item():.4f}, val loss {val_loss(model):.4f}")
print(f"training: {STEPS * BATCH * CONTEXT / train_secs:.0f} tokens/s")

model.eval()
ids = torch.tensor([[stoi["\n"]]])
t0 = time.perf_counter()
with torch.no_grad():
    for _ in range(500):
        logits = model(ids[:, -CONTEXT:])[:, -1] / 0.8
        v, _ = torch.topk(logits, 40)
        logits[logits < v[:, [-1]]] = -math.inf
        nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=gen)
        ids = torch.cat([ids, nxt], dim=1)
print(f"generation: {500 / (time.perf_counter() - t0):.1f} characters/s without a cache")
print("".join(chars[i] for i in ids[0, 1:].tolist()))
