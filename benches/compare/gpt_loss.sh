#!/usr/bin/env sh
# The char-GPT's validation loss after training, tapeflow against PyTorch,
# over several seeds (mean of each side). Loss values do not depend on the
# machine's load, so this may run while other work runs; its timings may not
# be quoted as speed figures.
#
# Usage (from anywhere): benches/compare/gpt_loss.sh [steps] [seed...]
# Default: 2,000 steps, seeds 1 2 3, one thread each.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
steps=${1:-2000}
[ $# -gt 0 ] && shift
seeds=${*:-1 2 3}
cargo build --release --example char_gpt
out=$(mktemp -d)
for seed in $seeds; do
  ./target/release/examples/char_gpt "$steps" 1 "$seed" > "$out/tapeflow_$seed.txt"
  python3 benches/compare/gpt_torch.py "$steps" 1 "$seed" > "$out/torch_$seed.txt"
  for side in tapeflow torch; do
    printf '%s seed %s: %s\n' "$side" "$seed" \
      "$(grep "step $steps:" "$out/${side}_$seed.txt" | grep -o 'val loss [0-9.]*')"
  done
done
for side in tapeflow torch; do
  grep -h "step $steps:" "$out"/"$side"_*.txt | grep -o 'val loss [0-9.]*' \
    | awk -v s="$side" '{t += $3; n++} END {printf "%s: mean val loss %.4f over %d seeds\n", s, t / n, n}'
done
rm -r "$out"
