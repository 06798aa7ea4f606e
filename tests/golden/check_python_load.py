"""Checks that a file written by tapeflow's `save` opens in Python.

Usage: python3 tests/golden/check_python_load.py MODEL.safetensors

Loads every tensor with safetensors.numpy.load_file, reads the metadata with
safe_open(...).metadata(), prints each tensor's name, dtype and shape and the
metadata keys, checks that the metadata JSON parses and that every parameter
the model JSON implies is present, and exits non-zero if anything is missing.
"""

import json
import sys

from safetensors import safe_open
from safetensors.numpy import load_file

REQUIRED_KEYS = ["format", "format_version", "tapeflow_version", "dtype", "model"]


def main(path):
    tensors = load_file(path)
    with safe_open(path, framework="numpy") as f:
        meta = f.metadata() or {}
    for name in sorted(tensors):
        t = tensors[name]
        print(f"{name}: {t.dtype} {list(t.shape)}")
    print("metadata keys:", sorted(meta))
    problems = [f"metadata has no {k!r}" for k in REQUIRED_KEYS if k not in meta]
    if meta.get("format") != "tapeflow":
        problems.append(f"format is {meta.get('format')!r}, not 'tapeflow'")
    for key in ("model", "compile", "history"):
        if key in meta:
            try:
                json.loads(meta[key])
            except ValueError as e:
                problems.append(f"metadata {key!r} is not JSON: {e}")
    if "model" in meta:
        model = json.loads(meta["model"])
        for layer in model.get("layers", []):
            if layer.get("kind") == "Dense":
                name = layer["config"]["name"]
                wanted = [f"{name}/kernel"]
                if layer["config"].get("use_bias", True):
                    wanted.append(f"{name}/bias")
                problems += [f"no tensor {w!r}" for w in wanted if w not in tensors]
        print("layers:", [l.get("kind") for l in model.get("layers", [])])
    for p in problems:
        print("MISSING:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
