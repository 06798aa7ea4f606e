"""Golden values for tests/suite/conv_import.rs: PyTorch Conv2d and
BatchNorm2d weights imported into a tapeflow model give torch's outputs.

Builds, with seed 0,
    torch.nn.Sequential(Conv2d(2, 4, 3, padding=1), BatchNorm2d(4), ReLU(),
                        AdaptiveAvgPool2d(1), Flatten(), Linear(4, 3))
gives the BatchNorm non-trivial running statistics by three training-mode
passes, switches to eval mode, saves the state dict with
safetensors.torch.save_file to tests/fixtures/torch_cnn.safetensors ("0.weight"
[4, 2, 3, 3] OIHW, "0.bias", "1.weight", "1.bias", "1.running_mean",
"1.running_var", "1.num_batches_tracked", "5.weight", "5.bias"), and prints
torch's outputs for a fixed input x[i] = sin(0.37 i + 0.1) laid out NHWC
[2, 5, 5, 2] (permuted to NCHW for torch), which the Rust test holds as
TORCH_OUT.

Run from the crate root: python3 tests/golden/conv_torch_import.py
"""

import math
import os

import torch
from safetensors.torch import save_file

torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Conv2d(2, 4, 3, padding=1),
    torch.nn.BatchNorm2d(4),
    torch.nn.ReLU(),
    torch.nn.AdaptiveAvgPool2d(1),
    torch.nn.Flatten(),
    torch.nn.Linear(4, 3),
)
model.train()
with torch.no_grad():
    for _ in range(3):
        model(torch.randn(8, 2, 5, 5) * 2.0 + 0.5)
model.eval()
out_path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "torch_cnn.safetensors")
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out_path)

n = 2 * 5 * 5 * 2
x = torch.tensor([math.sin(0.37 * i + 0.1) for i in range(n)], dtype=torch.float32)
x = x.reshape(2, 5, 5, 2).permute(0, 3, 1, 2)
with torch.no_grad():
    y = model(x)
print("const TORCH_OUT: [f64; 6] = [")
for v in y.flatten().tolist():
    print(f"    {v!r},")
print("];")
