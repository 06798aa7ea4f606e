"""How much of a workload's work runs in split (parallel) regions, from a
`perf record --call-graph dwarf` profile of the `workloads` bench on 2
threads. A load-independent proxy for what a second thread can save: which
code path a sample is on does not depend on the machine's load (which
thread ran it, and when, does).

Each sample of the workload (its stack holds `workloads::train_step`, or
`workloads::gemm` for the GEMM workloads, or a pool job) is
- idle: spinning or sleeping (yield, futex, the pool's sleep);
- split: inside a region that the pool splits (gemm's `par_for_each`,
  tapeflow's `split_over`, a rayon join or parallel collect);
- serial: the rest of the workload.
Samples outside the workload (model build, data) are left out.
The ideal 2-thread speedup (Amdahl) is (serial + split) / (serial + split / 2).

Usage:
  perf record -e cpu-clock -F 2000 --call-graph dwarf,16384 -o mlp.data \\
      target/release/deps/workloads-<hash> mlp_b128 2 4
  python3 benches/compare/split_share.py mlp.data [more.data ...]
"""

import collections
import re
import subprocess
import sys

IDLE = re.compile(r"sched_yield|yield_now|futex|sleep|schedule")
SPLIT = re.compile(r"par_for_each|split_over|join_context|collect_into_vec|bridge_producer")
WORKLOAD = re.compile(r"workloads::(train_step|gemm)\b")


def classify(path):
    script = subprocess.run(
        ["perf", "script", "-i", path], capture_output=True, text=True, check=True
    ).stdout
    counts = collections.Counter()
    for block in script.split("\n\n"):
        if "cpu-clock" not in block:
            continue
        top = "\n".join(block.split("\n")[1:3])
        if IDLE.search(top):
            counts["idle"] += 1
        elif not WORKLOAD.search(block) and "rayon_core" not in block:
            counts["outside"] += 1
        elif SPLIT.search(block):
            counts["split"] += 1
        elif WORKLOAD.search(block):
            counts["serial"] += 1
        else:
            counts["idle"] += 1  # a pool thread between jobs
    return counts


def main():
    for path in sys.argv[1:]:
        c = classify(path)
        s, p = c["serial"], c["split"]
        total = max(1, s + p)
        print(
            f"{path}: serial {s}, split {p}, idle {c['idle']}, outside {c['outside']}; "
            f"split share {p / total:.2f}, ideal 2-thread speedup {total / max(1, s + p / 2):.2f}"
        )


if __name__ == "__main__":
    main()
