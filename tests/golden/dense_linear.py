"""Golden values for tests/layers.rs: tapeflow's Dense against PyTorch's nn.Linear.

PyTorch's weight is [out, in], the transpose of tapeflow's kernel [in, out].
Run: python3 tests/golden/dense_linear.py  (float64 throughout)
"""
import torch


def show(name, t):
    print(f"{name} = {[float(v) for v in t.detach().flatten()]}")


def case(title, x, kernel, bias, g, activation=None):
    print(f"# {title}")
    linear = torch.nn.Linear(kernel.shape[0], kernel.shape[1], dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(kernel.T)  # [out, in]
        linear.bias.copy_(bias)
    x = x.clone().requires_grad_(True)
    y = linear(x)
    if activation is not None:
        y = activation(y)
    y.backward(g)
    show("y", y)
    show("dx", x.grad)
    show("dkernel", linear.weight.grad.T)  # back to [in, out]
    show("dbias", linear.bias.grad)


kernel = torch.tensor([[0.5, -1.0], [0.25, 2.0], [-0.75, 0.1]], dtype=torch.float64)  # [in 3, out 2]
bias = torch.tensor([0.1, -0.2], dtype=torch.float64)
x = torch.tensor(
    [[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0], [0.3, -0.7, 2.2], [4.0, 1.0, -2.0]], dtype=torch.float64
)
g = torch.tensor([[1.0, -0.5], [2.0, 0.25], [-1.5, 3.0], [0.5, 0.75]], dtype=torch.float64)

case("linear, x [4, 3]", x, kernel, bias, g)
case("tanh, x [4, 3]", x, kernel, bias, g, torch.tanh)
case("linear, x [2, 2, 3] (acts on the last axis)", x.reshape(2, 2, 3), kernel, bias, g.reshape(2, 2, 2))
