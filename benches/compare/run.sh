#!/usr/bin/env bash
# Side by side with PyTorch: every workload of benches/compare/workloads.rs
# (tapeflow) and benches/compare/workloads_torch.py (PyTorch), run as
# separate processes alternately (A B A B ...) for ROUNDS rounds at 1 and 2
# threads; prints a markdown table of the medians and the ratio
# (tapeflow's speed over PyTorch's; > 1 means tapeflow is faster).
#
# Usage: benches/compare/run.sh [ROUNDS] [WORKLOAD...]
#   ROUNDS defaults to 3; the workloads default to all of them.
# Needs PyTorch (`pip install torch`); run on a quiet machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
rounds=${1:-3}
shift || true
cargo bench --bench workloads --no-run 2>/dev/null
bin=$(cargo bench --bench workloads --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "workloads" and m.get("executable"):
        print(m["executable"])')
workloads=("$@")
if [ ${#workloads[@]} -eq 0 ]; then
  mapfile -t workloads < <("$bin" | cut -d' ' -f1)
fi
out=$(mktemp)
for threads in 1 2; do
  for w in "${workloads[@]}"; do
    for ((r = 0; r < rounds; r++)); do
      echo "tapeflow $("$bin" "$w" "$threads")" >>"$out"
      echo "torch $(python3 benches/compare/workloads_torch.py "$w" "$threads")" >>"$out"
    done
  done
done
python3 - "$out" <<'EOF'
import collections, statistics, sys
rows = collections.defaultdict(list)
rss = collections.defaultdict(list)
units = {}
for line in open(sys.argv[1]):
    lib, name, threads, value, unit, _, mb = line.split()
    rows[(name, int(threads), lib)].append(float(value))
    rss[(name, int(threads), lib)].append(float(mb))
    units[name] = unit
higher_is_better = {"samples/s", "GFLOP/s"}
print("| workload | threads | unit | tapeflow | PyTorch | tapeflow speed / PyTorch | peak RSS MB (tf / torch) |")
print("|---|---|---|---|---|---|---|")
for (name, threads) in sorted({(n, t) for (n, t, _) in rows}, key=lambda k: (k[1], k[0])):
    tf = statistics.median(rows[(name, threads, "tapeflow")])
    pt = statistics.median(rows[(name, threads, "torch")])
    ratio = tf / pt if units[name] in higher_is_better else pt / tf
    mtf = max(rss[(name, threads, "tapeflow")]); mpt = max(rss[(name, threads, "torch")])
    print(f"| {name} | {threads} | {units[name]} | {tf:.4g} | {pt:.4g} | {ratio:.2f}x | {mtf:.0f} / {mpt:.0f} |")
EOF
rm -f "$out"
