"""PyTorch's side of the side-by-side comparison (benches/compare/workloads.rs
is tapeflow's side: same shapes, data sizes, optimizer settings, threads).

Usage: python3 benches/compare/workloads_torch.py <workload> <threads>
Prints one line: `<workload> <threads> <value> <unit> peak_rss_mb <MiB>`,
the median of the repetitions taken in this process after one warm-up.
"""

import gzip
import os
import resource
import statistics
import struct
import sys
import time

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def mlp_step_rate(batch):
    torch.manual_seed(0)
    model = mlp([784, 256, 128, 10])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    x = torch.rand(batch, 784)
    y = torch.tensor([(i * 7) % 10 for i in range(batch)])
    loss_fn = torch.nn.CrossEntropyLoss()
    steps = 64
    start = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - start)


def tiny_step():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    x = torch.rand(64, 1) * 2 - 1
    y = torch.sin(x)
    steps = 2000
    start = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) * 1e6 / steps


def linreg_fit():
    x = (torch.arange(1000, dtype=torch.float32) / 1000.0).reshape(1000, 1)
    y = 0.1 * x + 0.3
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    start = time.perf_counter()
    for _ in range(100):  # 100 full-batch epochs
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) * 1e3


def add8():
    a = torch.rand(8, requires_grad=True)
    b = torch.rand(8, requires_grad=True)
    reps = 200_000
    start = time.perf_counter()
    for _ in range(reps):
        a + b
    return (time.perf_counter() - start) * 1e9 / reps


def mulsum8_backward():
    a0 = torch.rand(8)
    b0 = torch.rand(8)
    reps = 100_000
    start = time.perf_counter()
    for _ in range(reps):
        a = a0.clone().requires_grad_()
        b = b0.clone().requires_grad_()
        torch.autograd.grad((a * b).sum(), [a, b])
    return (time.perf_counter() - start) * 1e6 / reps


def gemm(n):
    a = torch.rand(n, n) * 2 - 1
    b = torch.rand(n, n) * 2 - 1
    reps = max(1, 2**32 // (2 * n**3))
    start = time.perf_counter()
    for _ in range(reps):
        torch.matmul(a, b)
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e9


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    t = torch.frombuffer(bytearray(data[4 + 4 * ndim :]), dtype=torch.uint8)
    return t.reshape(dims)


def mnist_epoch():
    d = os.path.join(ROOT, "data", "mnist")
    x = read_idx(os.path.join(d, "train-images-idx3-ubyte.gz")).reshape(-1, 784).float() / 255.0
    y = read_idx(os.path.join(d, "train-labels-idx1-ubyte.gz")).long()
    torch.manual_seed(0)
    model = mlp([784, 256, 128, 10])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    perm = torch.randperm(x.shape[0])  # fit shuffles each epoch, as here
    for i in range(0, x.shape[0], 128):
        idx = perm[i : i + 128]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - start


WORKLOADS = {
    "mlp_b128": ("samples/s", 7, lambda: mlp_step_rate(128)),
    "mlp_b32": ("samples/s", 7, lambda: mlp_step_rate(32)),
    "tiny_step": ("us/step", 7, tiny_step),
    "linreg_fit": ("ms", 7, linreg_fit),
    "add8": ("ns", 7, add8),
    "mulsum8_backward": ("us", 7, mulsum8_backward),
    "gemm256": ("GFLOP/s", 7, lambda: gemm(256)),
    "gemm512": ("GFLOP/s", 7, lambda: gemm(512)),
    "gemm1024": ("GFLOP/s", 5, lambda: gemm(1024)),
    "mnist_epoch": ("s", 1, mnist_epoch),
}


def main():
    if len(sys.argv) < 2:
        for name, (unit, _, _) in WORKLOADS.items():
            print(f"{name} ({unit})")
        return
    name = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    torch.set_num_threads(threads)
    unit, repetitions, run = WORKLOADS[name]
    run()  # warm-up
    value = statistics.median(run() for _ in range(repetitions))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"{name} {threads} {value:.6f} {unit} peak_rss_mb {rss:.1f}")


if __name__ == "__main__":
    main()
