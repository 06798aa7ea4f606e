"""PyTorch CPU f32 convolution speed at the shapes of benches/conv.rs, on one
thread and on two, in NCHW and in channels_last memory format.

Prints images per second (median of 15 timed repetitions after 3 warm-up
ones) for:
- conv2d_fwd_bwd/mnist: x [64, 1, 28, 28] -> Conv2d(1, 32, 3) -> Conv2d(32, 64, 3),
  then the gradients of both weights and biases for a fixed upstream
  gradient (x does not require grad, as in the Rust bench);
- conv2d_fwd_bwd/cifar: x [32, 3, 32, 32] -> Conv2d(3, 64, 3) -> Conv2d(64, 128, 3);
- train_step/mnist_cnn: one Adam step of the network of examples/mnist_cnn.rs
  (Conv2d 32 3x3 no bias, BatchNorm2d, ReLU, MaxPool2d 2, Conv2d 64 3x3 no
  bias, BatchNorm2d, ReLU, MaxPool2d 2, Flatten, Dropout 0.25, Linear 1600->128,
  ReLU, Dropout 0.5, Linear 128->10) on a batch of 64, cross-entropy from logits.

Compare with `cargo bench --bench conv` (criterion's elem/s is images per
second). Run both on a quiet machine.

Usage: python3 benches/compare/conv_torch.py
"""

import statistics
import time

import torch

REPETITIONS = 15
WARMUP = 3


def timed(step, images):
    for _ in range(WARMUP):
        step()
    times = []
    for _ in range(REPETITIONS):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return images / statistics.median(times)


def two_convs(x_shape, filters, memory_format):
    n, c, h, w = x_shape
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(x_shape, generator=gen) * 2 - 1).to(memory_format=memory_format)
    c1 = torch.nn.Conv2d(c, filters[0], 3).to(memory_format=memory_format)
    c2 = torch.nn.Conv2d(filters[0], filters[1], 3).to(memory_format=memory_format)
    g = torch.rand(n, filters[1], h - 4, w - 4, generator=gen).to(memory_format=memory_format)

    def step():
        for p in (*c1.parameters(), *c2.parameters()):
            p.grad = None
        c2(c1(x)).backward(g)

    return timed(step, n)


def cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, bias=False),
        torch.nn.BatchNorm2d(32, momentum=0.1, eps=1e-3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, bias=False),
        torch.nn.BatchNorm2d(64, momentum=0.1, eps=1e-3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Dropout(0.25),
        torch.nn.Linear(1600, 128),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(128, 10),
    )


def train_step(memory_format):
    gen = torch.Generator().manual_seed(0)
    model = cnn().to(memory_format=memory_format)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(64, 1, 28, 28, generator=gen).to(memory_format=memory_format)
    y = torch.arange(64) % 10
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    return timed(step, 64)


def main():
    print(f"torch {torch.__version__}")
    formats = [("nchw", torch.contiguous_format), ("channels_last", torch.channels_last)]
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for fmt_name, fmt in formats:
            mnist = two_convs((64, 1, 28, 28), (32, 64), fmt)
            cifar = two_convs((32, 3, 32, 32), (64, 128), fmt)
            step = train_step(fmt)
            print(f"threads {threads} {fmt_name:>13}: "
                  f"conv2d_fwd_bwd/mnist {mnist:8.0f} img/s, "
                  f"conv2d_fwd_bwd/cifar {cifar:8.0f} img/s, "
                  f"train_step/mnist_cnn {step:8.0f} img/s")


if __name__ == "__main__":
    main()
