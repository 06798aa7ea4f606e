"""Golden values for tests/golden_tape.rs: composite expressions in float64.

Run `python3 tests/golden/composite.py` (torch 2.15) and paste the printed
constants into tests/golden_tape.rs. The inputs below are copied verbatim into
the Rust test.
"""

import torch

torch.set_default_dtype(torch.float64)


def leaf(data, shape):
    return torch.tensor(data).reshape(shape).requires_grad_(True)


def emit(name, t):
    flat = ", ".join(repr(float(v)) for v in t.detach().reshape(-1).tolist())
    print(f"const {name}: [f64; {t.numel()}] = [{flat}];")


# 1. Two-layer MLP: h = tanh(x·W1 + b1), p = softmax(h·W2 + b2),
#    loss = -mean over rows of Σ y ⊙ ln p (cross-entropy by composition).
x = leaf([0.5, -1.2, 0.3, 0.8, -0.4, 0.9, 1.5, -0.7, 0.2, 0.1, -0.6, 1.1], (3, 4))
w1 = leaf([0.2, -0.3, 0.5, 0.1, -0.8, 0.7, 0.4, -0.2, 0.6, 0.3,
           -0.5, 0.9, -0.1, 0.2, 0.8, 0.4, -0.6, 0.3, -0.7, 0.5], (4, 5))
b1 = leaf([0.1, -0.2, 0.05, 0.3, -0.1], (5,))
w2 = leaf([0.3, -0.5, 0.2, 0.7, 0.1, -0.4, -0.2, 0.6, 0.5,
           0.4, -0.3, 0.8, -0.9, 0.2, 0.1], (5, 3))
b2 = leaf([0.05, -0.1, 0.2], (3,))
y = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]).reshape(3, 3)
h = torch.tanh(x @ w1 + b1)
p = torch.softmax(h @ w2 + b2, dim=1)
loss = -(y * torch.log(p)).sum(dim=1).mean()
loss.backward()
print("// mlp")
emit("MLP_LOSS", loss.reshape(1))
emit("MLP_DX", x.grad)
emit("MLP_DW1", w1.grad)
emit("MLP_DB1", b1.grad)
emit("MLP_DW2", w2.grad)
emit("MLP_DB2", b2.grad)

# 2. y = Σ eˣ ⊙ σ(w) / (1 + x²), w [3] broadcast over the rows of x [2, 3].
x = leaf([0.3, -1.1, 0.8, 1.7, -0.2, -0.9], (2, 3))
w = leaf([0.4, -1.3, 2.1], (3,))
out = (torch.exp(x) * torch.sigmoid(w) / (1 + x * x)).sum()
out.backward()
print("// exp_sigmoid")
emit("ES_VALUE", out.reshape(1))
emit("ES_DX", x.grad)
emit("ES_DW", w.grad)

# 3. log_softmax(a·b, dim 1) with a fixed cotangent r: L = Σ r ⊙ y.
a = leaf([0.5, -0.3, 1.2, -0.8, 0.4, 0.9], (2, 3))
b = leaf([0.7, -0.2, 0.3, 1.1, -0.5, 0.8, -0.6, 0.2, 0.4, 0.1, 0.9, -1.0], (3, 4))
r = torch.tensor([1.0, -0.5, 0.25, 2.0, -1.5, 0.75, 0.5, -0.25]).reshape(2, 4)
out = torch.log_softmax(a @ b, dim=1)
out.backward(r)
print("// log_softmax_matmul")
emit("LSM_VALUE", out)
emit("LSM_DA", a.grad)
emit("LSM_DB", b.grad)

# 4. gelu(x·W + c) (exact erf GELU), x [2, 2, 3] batched, W [3, 2], c [2];
#    fixed cotangent r.
x = leaf([0.2, -0.5, 1.0, 0.7, 0.3, -1.2, -0.4, 0.9, 0.6, 1.3, -0.8, 0.1], (2, 2, 3))
w = leaf([0.5, -0.7, 0.8, 0.2, -0.3, 0.9], (3, 2))
c = leaf([0.1, -0.2], (2,))
r = torch.tensor([0.3, -1.0, 0.5, 2.0, -0.7, 1.2, 0.9, -0.4]).reshape(2, 2, 2)
out = torch.nn.functional.gelu(x @ w + c)
out.backward(r)
print("// gelu_linear")
emit("GL_VALUE", out)
emit("GL_DX", x.grad)
emit("GL_DW", w.grad)
emit("GL_DC", c.grad)
