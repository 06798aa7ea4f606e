"""Golden values for tests/suite/explain_captum.rs and tests/suite/adversarial_torch.rs.

Trains a small PyTorch MLP, torch.nn.Sequential(Linear(784, 32), ReLU(),
Linear(32, 16), ReLU(), Linear(16, 10)), for one epoch on the first 10,000
MNIST training images (seed 0), and saves its state dict with
safetensors.torch.save_file to tests/fixtures/captum_mlp.safetensors
(tensors "0.weight" [32, 784], "0.bias", "2.weight", "2.bias", "4.weight",
"4.bias"). Then, on the first four MNIST test digits (pixels / 255, float32),
with each digit's true label as the target, it computes

- Captum's Saliency (abs=True),
- Captum's IntegratedGradients with a zero baseline, 50 steps, method
  "gausslegendre" and "riemann_middle", with the convergence delta,
- Captum's InputXGradient,

and, with a plain PyTorch implementation of the attacks (loss: the summed
cross-entropy of the logits; sign(0) = 0; L2 steps divide by
max(||g||_2, 1e-12) per row; projection onto the ball, then clamping to
[0, 1]; no random start):

- FGSM, eps = 0.1;
- PGD L-inf, eps = 0.1, step 0.02, 10 steps;
- PGD L2, eps = 1.0, step 0.25, 10 steps;
- targeted PGD L-inf towards class (label + 1) % 10, eps = 0.1, step 0.02, 10 steps.

Everything is written, as float32 tensors, to
tests/fixtures/captum_mlp_expected.safetensors.

Run from the crate root (needs torch, captum, numpy, safetensors):
    python3 tests/golden/captum_mlp.py
"""

import gzip
import os

import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import InputXGradient, IntegratedGradients, Saliency
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def idx(path):
    with gzip.open(os.path.join(ROOT, "data", "mnist", path), "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def pixels(a):
    return torch.from_numpy(a.reshape(a.shape[0], -1).astype(np.float32) / np.float32(255.0))


torch.manual_seed(0)
x_train = pixels(idx("train-images-idx3-ubyte.gz")[:10000])
y_train = torch.from_numpy(idx("train-labels-idx1-ubyte.gz")[:10000].astype(np.int64))
model = torch.nn.Sequential(
    torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10)
)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
perm = torch.randperm(10000)
for start in range(0, 10000, 64):
    rows = perm[start : start + 64]
    opt.zero_grad()
    F.cross_entropy(model(x_train[rows]), y_train[rows]).backward()
    opt.step()
model.eval()
save_file(
    {k: v.detach().contiguous() for k, v in model.state_dict().items()},
    os.path.join(ROOT, "tests", "fixtures", "captum_mlp.safetensors"),
)

x = pixels(idx("t10k-images-idx3-ubyte.gz")[:4])
labels = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz")[:4].astype(np.int64))
out = {"x": x, "labels": labels.to(torch.float32)}

out["saliency"] = Saliency(model).attribute(x, target=labels)
ig = IntegratedGradients(model)
for method, name in [("gausslegendre", "ig_gausslegendre"), ("riemann_middle", "ig_riemann_middle")]:
    attr, delta = ig.attribute(
        x, baselines=torch.zeros_like(x), target=labels, n_steps=50, method=method,
        return_convergence_delta=True,
    )
    out[name] = attr
    out[name + "_delta"] = delta.to(torch.float32)
out["input_x_gradient"] = InputXGradient(model).attribute(x, target=labels)


def attack(x, labels, eps, alpha, steps, norm, targeted=False):
    adv = x.clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(model(adv), labels, reduction="sum")
        (g,) = torch.autograd.grad(loss, adv)
        if targeted:
            g = -g
        with torch.no_grad():
            if norm == "linf":
                adv = adv + alpha * g.sign()
                adv = torch.max(torch.min(adv, x + eps), x - eps)
            else:
                n = g.norm(dim=1, keepdim=True).clamp_min(1e-12)
                adv = adv + alpha * g / n
                d = adv - x
                dn = d.norm(dim=1, keepdim=True)
                d = torch.where(dn > eps, d * (eps / dn), d)
                adv = x + d
            adv = adv.clamp(0.0, 1.0)
    return adv.detach()


out["fgsm"] = attack(x, labels, 0.1, 0.1, 1, "linf")
out["pgd_linf"] = attack(x, labels, 0.1, 0.02, 10, "linf")
out["pgd_l2"] = attack(x, labels, 1.0, 0.25, 10, "l2")
out["pgd_linf_targeted"] = attack(x, (labels + 1) % 10, 0.1, 0.02, 10, "linf", targeted=True)
with torch.no_grad():
    out["logits"] = model(x)

save_file(
    {k: v.detach().to(torch.float32).contiguous() for k, v in out.items()},
    os.path.join(ROOT, "tests", "fixtures", "captum_mlp_expected.safetensors"),
)
for k, v in out.items():
    print(k, tuple(v.shape), float(v.abs().sum()))
