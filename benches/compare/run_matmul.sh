#!/usr/bin/env sh
# Side-by-side single-threaded f32 matmul: tapeflow (gemm) and
# matrixmultiply via criterion, then PyTorch, in one run on one machine.
#
# Usage (from anywhere): benches/compare/run_matmul.sh
# Criterion's "thrpt" for matmul is in elements/s where one element is one
# FLOP (Throughput::Elements(2 n^3)), so "Gelem/s" reads as GFLOP/s.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
lscpu | grep -E '^(Model name|CPU\(s\)):'
echo "avx512f: $(grep -q -w avx512f /proc/cpuinfo && echo yes || echo no)"
echo "== tapeflow (gemm) and matrixmultiply, criterion, 1 thread"
cargo bench --bench tensor -- matmul
echo "== PyTorch, 1 thread"
python3 benches/compare/matmul_torch.py
