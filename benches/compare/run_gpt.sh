#!/usr/bin/env sh
# Side by side: the char-GPT of examples/char_gpt.rs trained by tapeflow and
# by PyTorch CPU (benches/compare/gpt_torch.py), same model and settings, on
# one and on two threads. Compare the final validation losses (nats per
# character), the training tokens/s, and generation characters/s (tapeflow
# with and without its key/value cache; PyTorch without one).
#
# Usage (from anywhere, on a quiet machine): benches/compare/run_gpt.sh [steps]
# Default 2,000 steps; each run takes minutes to tens of minutes.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
steps=${1:-2000}
lscpu | grep -E '^(Model name|CPU\(s\)):'
cargo build --release --example char_gpt
for threads in 1 2; do
  echo "== tapeflow, $threads thread(s)"
  ./target/release/examples/char_gpt "$steps" "$threads"
  echo "== PyTorch, $threads thread(s)"
  python3 benches/compare/gpt_torch.py "$steps" "$threads"
done
