"""Golden values from PyTorch for tests/suite/attention_golden.rs.

Writes tests/fixtures/attention_golden.safetensors (float64): inputs, an
upstream gradient `r`, and PyTorch's forward values and gradients of
L = sum(r * f(x)) for
  - layer norm (nn.LayerNorm, eps 1e-3 = Keras's default),
  - embedding lookup (nn.Embedding),
  - self-attention (nn.MultiheadAttention, batch_first, 2 heads, causal),
  - cross-attention with a boolean mask that masks every key of one query
    row (PyTorch >= 2.5 gives that row a zero context, as tapeflow does).

Run from the repository root:  python3 tests/golden/attention_torch.py
(made with torch 2.15.0, safetensors 0.8.0).
"""

import torch
import torch.nn as nn
from safetensors.torch import save_file

torch.manual_seed(0)
dt = torch.float64
out = {}


def leaf(shape, scale=1.0):
    return (torch.randn(*shape, dtype=dt) * scale).requires_grad_(True)


# Layer norm over the last axis.
ln = nn.LayerNorm(5, eps=1e-3).to(dt)
with torch.no_grad():
    ln.weight.copy_(torch.randn(5, dtype=dt))
    ln.bias.copy_(torch.randn(5, dtype=dt))
x = leaf((2, 3, 5), 2.0)
r = torch.randn(2, 3, 5, dtype=dt)
y = ln(x)
(y * r).sum().backward()
out.update(ln_x=x, ln_gamma=ln.weight, ln_beta=ln.bias, ln_r=r, ln_y=y,
           ln_dx=x.grad, ln_dgamma=ln.weight.grad, ln_dbeta=ln.bias.grad)

# Embedding.
emb = nn.Embedding(6, 3).to(dt)
ids = torch.tensor([[1, 4, 1, 0], [5, 5, 2, 1]])
r = torch.randn(2, 4, 3, dtype=dt)
y = emb(ids)
(y * r).sum().backward()
out.update(emb_table=emb.weight, emb_ids=ids.to(dt), emb_r=r, emb_y=y,
           emb_dtable=emb.weight.grad)


def attention_case(tag, mha, q, kv, mask):
    r = torch.randn(q.shape[0], q.shape[1], mha.out_proj.out_features, dtype=dt)
    y = mha(q, kv, kv, attn_mask=mask, need_weights=False)[0]
    (y * r).sum().backward()
    out.update({
        f"{tag}_q": q, f"{tag}_kv": kv, f"{tag}_r": r, f"{tag}_y": y,
        f"{tag}_in_proj_weight": mha.in_proj_weight,
        f"{tag}_in_proj_bias": mha.in_proj_bias,
        f"{tag}_out_proj_weight": mha.out_proj.weight,
        f"{tag}_out_proj_bias": mha.out_proj.bias,
        f"{tag}_dq": q.grad,
        f"{tag}_d_in_proj_weight": mha.in_proj_weight.grad,
        f"{tag}_d_in_proj_bias": mha.in_proj_bias.grad,
        f"{tag}_d_out_proj_weight": mha.out_proj.weight.grad,
        f"{tag}_d_out_proj_bias": mha.out_proj.bias.grad,
    })


def fresh_mha(embed, heads):
    mha = nn.MultiheadAttention(embed, heads, batch_first=True).to(dt)
    with torch.no_grad():  # non-zero biases, so their gradients are tested
        mha.in_proj_bias.copy_(torch.randn(3 * embed, dtype=dt) * 0.1)
        mha.out_proj.bias.copy_(torch.randn(embed, dtype=dt) * 0.1)
    return mha


# Causal self-attention: True in a boolean attn_mask means "masked".
mha = fresh_mha(6, 2)
x = leaf((2, 4, 6))
causal = torch.triu(torch.ones(4, 4, dtype=torch.bool), diagonal=1)
attention_case("mha", mha, x, x.detach(), causal)
# The self-attention gradient with respect to x flows through q, k and v:
mha.zero_grad()
x2 = x.detach().clone().requires_grad_(True)
r = out["mha_r"]
y = mha(x2, x2, x2, attn_mask=causal, need_weights=False)[0]
(y * r).sum().backward()
out["mha_dx_self"] = x2.grad

# Cross-attention with the second query row fully masked.
mha = fresh_mha(6, 3)
q = leaf((1, 2, 6))
kv = torch.randn(1, 3, 6, dtype=dt)
masked = torch.tensor([[False, False, True], [True, True, True]])
attention_case("masked", mha, q, kv, masked)

save_file({k: v.detach().clone().contiguous() for k, v in out.items()},
          "tests/fixtures/attention_golden.safetensors")
print("wrote", len(out), "tensors")
