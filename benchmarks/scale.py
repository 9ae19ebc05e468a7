#!/usr/bin/env python3
"""How program evaluation under mocks grows with the lab: time and peak memory.

Each case runs in a fresh interpreter (so peak RSS is its own), evaluates the real
__main__.py on a generated stack `--repeat` times and reports the median. Prints a
table, writes benchmarks/results/scale.json and, with matplotlib, scale.png.

Usage: .venv/bin/python benchmarks/scale.py [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
SERIES: dict[str, list[int]] = {
    "nodes": [3, 10, 30, 100],
    "policies": [10, 100, 1000],
    "records": [10, 100, 1000],
}


def ssh_private_key() -> str:
    from tests.support.keys import ssh_private_key as generate  # made per run; none is committed

    return generate()


def stack(nodes: int = 3, policies: int = 1, records: int = 1) -> dict[str, Any]:
    """A valid lab of the given size on a /16 LAN (room for 100 nodes outside DHCP)."""
    node_list = [
        {
            "name": f"cp{i + 1:02d}" if i < 3 else f"worker{i - 2:03d}",
            "address": f"192.168.1.{i + 10}",
            "role": "control-plane" if i < 3 else "worker",
        }
        for i in range(nodes)
    ]
    return {
        "homelab:lan": {"cidr": "192.168.0.0/16", "gateway": "192.168.0.1", "dhcpRange": "192.168.0.100-192.168.0.199"},
        "homelab:cluster": {"name": "bench", "kubernetesVersion": "1.34.5", "endpoint": "192.168.0.10"},
        "homelab:ssh": {"user": "lab", "privateKey": ssh_private_key()},
        "homelab:nodes": node_list,
        "homelab:network": {
            "bgp": {"enabled": True, "localAsn": 64512, "peerAsn": 64501, "peerAddress": "192.168.0.1"}
        },
        "homelab:loadBalancer": {"pools": [{"name": "lan", "addresses": ["192.168.2.240-192.168.2.250"]}]},
        "homelab:dns": {
            "zones": [
                {
                    "name": "k8s.intra",
                    "records": {f"host{i}": f"172.17.{i // 250}.{i % 250 + 1}" for i in range(records)},
                }
            ],
            "forward": {"home.lan": "192.168.0.1"},
        },
        "homelab:egress": [
            {
                "name": f"policy-{i}",
                "namespace": "default",
                "selector": {"app": f"app{i}"},
                "allow": [f"*.svc{i}.k8s.intra"],
            }
            for i in range(policies)
        ],
        "homelab:tls": {"secrets": [{"name": "web", "namespaces": ["default"], "dnsNames": ["web.k8s.intra"]}]},
    }


def measure_one(series: str, n: int, repeat: int) -> dict[str, Any]:
    from tests.support.stacks import host_answers
    from tools.mockrun import run_main

    config = stack(**{series: n})
    times: list[float] = []
    count = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        run = run_main(config=config, secret_keys=["homelab:ssh"], stack="bench", hooks=[host_answers])
        times.append(time.perf_counter() - t0)
        count = len(run.resources)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"series": series, "n": n, "seconds": statistics.median(times), "resources": count, "peak_mib": peak_mib}


def _fit(xs: list[int], ys: list[float]) -> tuple[float, float]:
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return slope, my - slope * mx


def plot(results: list[dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no plot", file=sys.stderr)
        return False
    fig, axes = plt.subplots(2, len(SERIES), figsize=(13, 7), constrained_layout=True)
    for col, series in enumerate(SERIES):
        rows = [r for r in results if r["series"] == series]
        xs = [r["n"] for r in rows]
        for row, (key, label) in enumerate((("seconds", "evaluation (s)"), ("peak_mib", "peak RSS (MiB)"))):
            ax = axes[row][col]
            ys = [r[key] for r in rows]
            ax.plot(xs, ys, "o-", label="measured")
            if len(rows) > 1:
                # least-squares line: points bending above it would mean superlinear growth
                slope, icept = _fit(xs, ys)
                ax.plot(xs, [icept + slope * x for x in xs], "--", color="grey", label="linear fit")
                ax.legend()
            ax.set_xlabel(series)
            ax.set_ylabel(label)
            ax.grid(True, which="both", alpha=0.3)
    fig.suptitle("homelab program under Pulumi mocks: evaluation time and peak memory vs. lab size")
    fig.savefig(path, dpi=110)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("SERIES", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one[0], int(args.one[1]), args.repeat)))
        return
    results: list[dict[str, Any]] = []
    # marginal s/unit: extra time per added unit since the previous size; about constant
    # when growth is linear (the first size also carries the fixed cost of the program)
    print(f"{'series':<10}{'n':>6}{'resources':>11}{'eval s':>9}{'marginal s/unit':>17}{'peak MiB':>10}")
    for series, sizes in SERIES.items():
        previous: dict[str, Any] | None = None
        for n in sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--one", series, str(n), "--repeat", str(args.repeat)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(r)
            marginal = (r["seconds"] - previous["seconds"]) / (n - previous["n"]) if previous else float("nan")
            previous = r
            print(f"{series:<10}{n:>6}{r['resources']:>11}{r['seconds']:>9.3f}{marginal:>17.5f}{r['peak_mib']:>10.1f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(results, indent=2) + "\n")
    if plot(results, RESULTS / "scale.png"):
        print(f"plot: {RESULTS / 'scale.png'}")


if __name__ == "__main__":
    main()
