"""Golden values for tests/suite/conv_depthwise_import.rs: a PyTorch
depthwise convolution's weights imported into a tapeflow DepthwiseConv2D
give torch's outputs.

Builds, with seed 0, torch.nn.Sequential(Conv2d(3, 6, 3, padding=1,
groups=3)) (three channels, depth multiplier 2, weight [6, 1, 3, 3], bias
[6]), saves its state dict with safetensors.torch.save_file to
tests/fixtures/torch_depthwise.safetensors ("0.weight", "0.bias"), and prints
torch's output for a fixed input x[i] = sin(0.37 i + 0.1) laid out NHWC
[1, 4, 4, 3] (permuted to NCHW for torch), permuted back to NHWC and
flattened, which the Rust test holds as TORCH_OUT.

Run from the crate root: python3 tests/golden/conv_depthwise_import.py
"""

import math
import os

import torch
from safetensors.torch import save_file

torch.manual_seed(0)
conv = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3, padding=1, groups=3))
out_path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "torch_depthwise.safetensors")
save_file({k: v.contiguous() for k, v in conv.state_dict().items()}, out_path)

n = 1 * 4 * 4 * 3
x = torch.tensor([math.sin(0.37 * i + 0.1) for i in range(n)], dtype=torch.float32)
x = x.reshape(1, 4, 4, 3).permute(0, 3, 1, 2)
with torch.no_grad():
    y = conv(x).permute(0, 2, 3, 1)
values = y.flatten().tolist()
print(f"const TORCH_OUT: [f64; {len(values)}] = [")
for v in values:
    print(f"    {v!r},")
print("];")
