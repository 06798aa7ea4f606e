"""Golden values for tests/losses.rs (run: python3 tests/golden/losses.py).

Every loss is the mean over the batch of per-sample values (Keras's
"sum_over_batch_size", PyTorch's reduction="mean"), in float64.

Source of each number:
- PyTorch (torch 2.x) where its definition equals Keras's: mse_loss, l1_loss,
  huber_loss, binary_cross_entropy_with_logits (also with label smoothing:
  targets smoothed by Keras's rule y(1-s) + s/2 before the call),
  cross_entropy from logits with probability targets, class targets and
  label_smoothing (torch's rule (1-s)·onehot + s/C is Keras's).
- Keras's formulas in NumPy where PyTorch differs:
  * binary cross-entropy from probabilities: Keras clips p to [1e-7, 1-1e-7];
    torch's BCELoss clamps log(p) at -100 instead.
  * categorical / sparse categorical from probabilities: Keras renormalises
    p / sum(p) then clips to [1e-7, 1-1e-7]; torch has no such loss.
  * KL divergence: Keras clips both y_true and y_pred to [1e-7, 1] and sums
    over the last axis; torch's kl_div takes log-probabilities.
Gradients are torch autograd of the same expressions.
"""
import numpy as np
import torch
import torch.nn.functional as F

EPS = 1e-7
torch.set_default_dtype(torch.float64)


def t(x):
    return torch.tensor(x, dtype=torch.float64)


def show(name, value):
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel()
    assert np.all(np.isfinite(arr)), name
    print(f"const {name}: [f64; {arr.size}] = [{', '.join(repr(float(v)) for v in arr)}];")


# Regression ------------------------------------------------------------------
pred = [[0.5, -1.0, 2.0], [3.0, 0.0, -2.5]]
true = [[1.0, -1.5, 0.0], [2.0, 0.5, -2.0]]
show("MSE", F.mse_loss(t(pred), t(true)).item())
show("MAE", F.l1_loss(t(pred), t(true)).item())
show("HUBER_1", F.huber_loss(t(pred), t(true), delta=1.0).item())
show("HUBER_0_5", F.huber_loss(t(pred), t(true), delta=0.5).item())

# Binary cross-entropy from logits ---------------------------------------------
z = [[100.0, -100.0, 0.5], [-100.0, 100.0, -2.0]]
y = [[0.0, 0.0, 1.0], [0.0, 1.0, 0.3]]
zt = t(z).requires_grad_()
loss = F.binary_cross_entropy_with_logits(zt, t(y))
loss.backward()
show("BCE_LOGITS", loss.item())
show("BCE_LOGITS_GRAD", zt.grad.numpy())
ys = t(y) * (1 - 0.2) + 0.5 * 0.2
show("BCE_LOGITS_SMOOTH_0_2", F.binary_cross_entropy_with_logits(t(z), ys).item())

# Binary cross-entropy from probabilities (Keras formula) -----------------------
p = np.array([[1.0, 0.0, 0.3], [0.0, 1.0, 0.9]])
yb = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def keras_bce(p, y):
    pc = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(pc) + (1 - y) * np.log(1 - pc))


show("BCE_PROBS", keras_bce(p, yb).mean(axis=-1).mean())
show("BCE_PROBS_SMOOTH_0_1", keras_bce(p, yb * 0.9 + 0.05).mean(axis=-1).mean())

# Categorical cross-entropy from logits ----------------------------------------
zc = [[100.0, -100.0, 0.0], [1.0, 2.0, 3.0], [-100.0, 100.0, 50.0]]
onehot = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
labels = [1, 2, 0]
zt = t(zc).requires_grad_()
loss = F.cross_entropy(zt, t(onehot))
loss.backward()
show("CCE_LOGITS", loss.item())
show("CCE_LOGITS_GRAD", zt.grad.numpy())
show("CCE_LOGITS_SMOOTH_0_1",
     F.cross_entropy(t(zc), torch.tensor(labels), label_smoothing=0.1).item())
show("SPARSE_LOGITS", F.cross_entropy(t(zc), torch.tensor(labels)).item())

# Categorical cross-entropy from probabilities (Keras formula) ------------------
pc = np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5], [0.0, 0.5, 0.5]])


def keras_cce(p, y):
    p = p / p.sum(axis=-1, keepdims=True)
    return -(y * np.log(np.clip(p, EPS, 1 - EPS))).sum(axis=-1)


show("CCE_PROBS", keras_cce(pc, np.array(onehot)).mean())
show("CCE_PROBS_SMOOTH_0_1", keras_cce(pc, np.array(onehot) * 0.9 + 0.1 / 3).mean())
show("SPARSE_PROBS", keras_cce(pc, np.array(onehot)).mean())

# KL divergence (Keras formula), cross-checked with torch's kl_div --------------
pk = np.array([[0.2, 0.8], [0.0, 1.0], [0.6, 0.4]])
tk = np.array([[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]])
tc, pcl = np.clip(tk, EPS, 1), np.clip(pk, EPS, 1)
kl = (tc * np.log(tc / pcl)).sum(axis=-1).mean()
torch_kl = F.kl_div(torch.log(t(pcl)), t(tc), reduction="batchmean").item()
assert abs(kl - torch_kl) < 1e-12
show("KLD", kl)
