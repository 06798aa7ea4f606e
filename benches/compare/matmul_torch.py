"""PyTorch CPU f32 matmul throughput on one thread, at tapeflow's bench sizes.

Prints one line per size: n, GFLOP/s of the best repetition and of the median
repetition. A repetition times `reps(n)` back-to-back products
(`torch.matmul(a, b, out=c)`, preallocated output) with
`time.perf_counter`, 2^32 FLOP in all; after one warm-up repetition, 15
repetitions are taken per size. FLOPs per product: 2 n^3, as in
`benches/tensor.rs`.

Usage: python3 benches/compare/matmul_torch.py
"""

import statistics
import time

import torch

SIZES = [64, 128, 256, 512, 1024]
REPETITIONS = 15


def reps(n: int) -> int:
    """Products per repetition: 2^32 FLOP (about 40 ms at 100 GFLOP/s)."""
    return max(1, 2**32 // (2 * n**3))


def main() -> None:
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'n':>6} {'best GFLOP/s':>13} {'median GFLOP/s':>15}")
    for n in SIZES:
        a = torch.rand(n, n, generator=gen, dtype=torch.float32) * 2 - 1
        b = torch.rand(n, n, generator=gen, dtype=torch.float32) * 2 - 1
        c = torch.empty(n, n, dtype=torch.float32)
        r = reps(n)
        rates = []
        for i in range(REPETITIONS + 1):
            start = time.perf_counter()
            for _ in range(r):
                torch.matmul(a, b, out=c)
            elapsed = time.perf_counter() - start
            if i > 0:  # the first repetition is a warm-up
                rates.append(2 * n**3 * r / elapsed / 1e9)
        print(f"{n:>6} {max(rates):>13.1f} {statistics.median(rates):>15.1f}")


if __name__ == "__main__":
    main()
