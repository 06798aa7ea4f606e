"""Golden values for tests/persist.rs::pytorch_linear_weights_predict_as_torch_does.

Builds torch.nn.Sequential(Linear(4, 8), ReLU(), Linear(8, 3)) with seed 0,
saves its state dict with safetensors.torch.save_file to
tests/fixtures/torch_linear.safetensors (tensors "0.weight" [8, 4], "0.bias",
"2.weight" [3, 8], "2.bias"), and prints torch's outputs for a fixed input,
which the Rust test holds as TORCH_OUT.

Run from the crate root: python3 tests/golden/torch_linear_export.py
"""

import os

import torch
from safetensors.torch import save_file

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
out_path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "torch_linear.safetensors")
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out_path)

x = torch.tensor(
    [[0.5, -1.0, 2.0, 0.25], [-0.75, 0.1, 0.0, 1.5], [1.0, 1.0, -1.0, -2.0]],
    dtype=torch.float32,
)
with torch.no_grad():
    y = model(x)
print("const TORCH_OUT: [f32; 9] = [")
for v in y.flatten().tolist():
    print(f"    {v!r},")
print("];")
