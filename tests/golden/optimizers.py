"""Golden values for tests/optimizers.rs.

Run: python3 tests/golden/optimizers.py   (torch 2.15, numpy)

Each case starts from the same 2x3 parameter P0, feeds the four gradients in
GRADS (one per step) and prints the parameter after every step, as a Rust
constant to paste into tests/optimizers.rs. Everything is float64, torch's
eps is set to our (Keras) default 1e-7, and hyperparameters differ from the
defaults where that makes the test stronger. Lion is not in torch: its
reference is the paper's pseudo-code (Chen et al. 2023, Algorithm 2) in numpy.
"""
import numpy as np
import torch

torch.set_default_dtype(torch.float64)  # also makes NAdam's mu_product float64

P0 = [[0.5, -1.2, 0.3], [2.0, -0.7, 1.1]]
GRADS = [
    [[0.1, -0.4, 0.9], [-1.5, 0.05, 0.3]],
    [[-0.2, 0.3, 0.7], [0.8, -0.6, 0.0]],
    [[0.5, 0.5, -0.1], [-0.3, 1.2, -0.9]],
    [[0.05, -0.9, 0.4], [0.6, 0.2, -0.25]],
]


def run_torch(make):
    p = torch.nn.Parameter(torch.tensor(P0, dtype=torch.float64))
    opt = make([p])
    out = []
    for g in GRADS:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        out.append(p.detach().numpy().ravel().copy())
    return out


def run_lion(lr, beta_1, beta_2, wd):
    p = np.array(P0, dtype=np.float64)
    m = np.zeros_like(p)
    out = []
    for g in GRADS:
        g = np.array(g, dtype=np.float64)
        c = beta_1 * m + (1 - beta_1) * g
        p = p - lr * (np.sign(c) + wd * p)
        m = beta_2 * m + (1 - beta_2) * g
        out.append(p.ravel().copy())
    return out


O = torch.optim
CASES = {
    "SGD_PLAIN": run_torch(lambda ps: O.SGD(ps, lr=0.1)),
    "SGD_MOMENTUM": run_torch(lambda ps: O.SGD(ps, lr=0.1, momentum=0.8)),
    "SGD_NESTEROV_WD": run_torch(
        lambda ps: O.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    ),
    "ADAM": run_torch(lambda ps: O.Adam(ps, lr=0.1, eps=1e-7)),
    "ADAM_AMSGRAD_L2": run_torch(
        lambda ps: O.Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-7, amsgrad=True, weight_decay=0.1)
    ),
    "ADAMW": run_torch(lambda ps: O.AdamW(ps, lr=0.1, eps=1e-7, weight_decay=0.004)),
    "ADAMW_AMSGRAD": run_torch(
        lambda ps: O.AdamW(ps, lr=0.1, eps=1e-7, weight_decay=0.1, amsgrad=True)
    ),
    "NADAM": run_torch(lambda ps: O.NAdam(ps, lr=0.1, eps=1e-7)),
    "RMSPROP": run_torch(lambda ps: O.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-7)),
    "RMSPROP_CENTERED_MOMENTUM": run_torch(
        lambda ps: O.RMSprop(ps, lr=0.01, alpha=0.8, eps=1e-7, momentum=0.5, centered=True)
    ),
    "ADAGRAD": run_torch(
        lambda ps: O.Adagrad(ps, lr=0.1, initial_accumulator_value=0.1, eps=1e-7)
    ),
    "ADADELTA": run_torch(lambda ps: O.Adadelta(ps, lr=1.0, rho=0.9, eps=1e-7)),
    "LION": run_lion(0.1, 0.9, 0.99, 0.0),
    "LION_WD": run_lion(0.1, 0.8, 0.95, 0.1),
}

for name, steps in CASES.items():
    print(f"const {name}: [[f64; 6]; 4] = [")
    for row in steps:
        print("    [" + ", ".join(repr(float(x)) for x in row) + "],")
    print("];")
