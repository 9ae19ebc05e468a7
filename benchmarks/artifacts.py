#!/usr/bin/env python3
"""How long the local mirror takes to make and fill, and how big it is.

Builds the debs, the signed apt repository and the images from the toolchain's binaries
into a fresh state directory (cold: nothing reused), serves it on loopback and pushes
every image into an empty registry; then builds again (warm: debs and layers reused).
Prints a table and writes benchmarks/results/artifacts.json.

Usage: .venv/bin/python benchmarks/artifacts.py [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(state: Path) -> dict[str, Any]:
    from tools.artifacts.mirror import build, serve

    t0 = time.monotonic()
    cold = build(state, log=lambda *_: None)
    cold_seconds = time.monotonic() - t0
    t0 = time.monotonic()
    mirror = serve(state, "127.0.0.1", 0, free_port(), log=lambda *_: None)
    serve_seconds = time.monotonic() - t0
    info = dict(mirror.info)
    mirror.stop()
    t0 = time.monotonic()
    build(state, log=lambda *_: None)
    warm_seconds = time.monotonic() - t0
    return {
        "kubernetesVersion": cold["kubernetesVersion"],
        "coldBuildSeconds": round(cold_seconds, 1),
        "warmBuildSeconds": round(warm_seconds, 1),
        "debSeconds": cold["debSeconds"],
        "aptSeconds": cold["apt"]["seconds"],
        "imageSeconds": cold["imageSeconds"],
        "serveAndPushSeconds": round(serve_seconds, 1),
        "pushSeconds": info["pushSeconds"],
        "pushedBytes": info["pushedBytes"],
        "debs": {d["file"]: d["bytes"] for d in cold["debs"]},
        "images": {f"{i['repository']}:{i['tag']}": i["bytes"] for i in cold["images"]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", type=Path, help="default: a fresh temp dir (removed after)")
    args = parser.parse_args()
    from tools.artifacts import toolchain

    try:
        toolchain.load(list(toolchain.ITEMS))
    except toolchain.MissingBinary as exc:
        print(f"artifacts benchmark: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="artifacts-bench-") as tmp:
        result = measure(args.state_dir or Path(tmp))
    mb = 1e6
    print(f"local mirror for Kubernetes {result['kubernetesVersion']}")
    print(f"  cold build        {result['coldBuildSeconds']:7.1f} s")
    print(f"    debs            {result['debSeconds']:7.1f} s")
    print(f"    apt repository  {result['aptSeconds']:7.1f} s")
    print(f"    images          {result['imageSeconds']:7.1f} s")
    print(f"  serve + push      {result['serveAndPushSeconds']:7.1f} s ({result['pushedBytes'] / mb:.1f} MB pushed)")
    print(f"  warm build        {result['warmBuildSeconds']:7.1f} s")
    for name, size in {**result["debs"], **result["images"]}.items():
        print(f"  {name:<45} {size / mb:7.1f} MB")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "artifacts.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
