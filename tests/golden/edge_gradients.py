"""Gradients at edge points in PyTorch, the conventions that
tests/suite/bad_inputs_ops.rs (gradients_at_edge_points_follow_pytorch)
checks tapeflow against. Run: python3 tests/golden/edge_gradients.py"""
import torch
import torch.nn.functional as F


def grad(x0, f):
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    f(x).sum().backward()
    return x.grad.item()


cases = [
    ("relu at 0", grad(0.0, torch.relu)),
    ("abs at 0", grad(0.0, torch.abs)),
    ("leaky_relu(0.1) at 0", grad(0.0, lambda x: F.leaky_relu(x, 0.1))),
    ("elu(0.5) at 0", grad(0.0, lambda x: F.elu(x, 0.5))),
    ("hard_sigmoid at 3", grad(3.0, F.hardsigmoid)),
    ("hard_sigmoid at -3", grad(-3.0, F.hardsigmoid)),
    ("clamp(0, 1) at 0", grad(0.0, lambda x: x.clamp(0.0, 1.0))),
    ("clamp(0, 1) at 1", grad(1.0, lambda x: x.clamp(0.0, 1.0))),
    ("powf(0) at 0", grad(0.0, lambda x: x.pow(0.0))),
    ("powf(0) at 2", grad(2.0, lambda x: x.pow(0.0))),
    ("powf(1) at 0", grad(0.0, lambda x: x.pow(1.0))),
    ("powf(2) at 0", grad(0.0, lambda x: x.pow(2.0))),
    ("powf(0.5) at 0", grad(0.0, lambda x: x.pow(0.5))),
    ("powf(-1) at 0", grad(0.0, lambda x: x.pow(-1.0))),
    ("sqrt at 0", grad(0.0, torch.sqrt)),
    ("ln at 0", grad(0.0, torch.log)),
    ("softplus at 0", grad(0.0, F.softplus)),
    ("sigmoid at 1000", grad(1000.0, torch.sigmoid)),
    ("tanh at -1000", grad(-1000.0, torch.tanh)),
]
for name, g in cases:
    print(f"{name}: {g}")
x = torch.tensor([[1.0, 1.0]], dtype=torch.float64, requires_grad=True)
x.amax(dim=1).sum().backward()
print("amax ties:", x.grad.tolist())
print("clamp(1, 0) of [-5, 0.5, 5]:", torch.tensor([-5.0, 0.5, 5.0]).clamp(1.0, 0.0).tolist())
print("relu(nan):", torch.relu(torch.tensor(float("nan"))).item())
print("hardsigmoid(nan):", F.hardsigmoid(torch.tensor(float("nan"))).item())
print("clamp(nan):", torch.tensor(float("nan")).clamp(0.0, 1.0).item())
