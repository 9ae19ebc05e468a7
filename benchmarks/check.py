"""Time `scripts/lab check` for 3 and 10 machines (throwaway netns+sshd hosts, needs root).

    .venv/bin/python benchmarks/check.py [--runs 3] [--record FILE]

Each size is checked `--runs` times; the median, min and max wall time are printed, as
`check` runs it: keyscan + one SSH session per node, in parallel (16 at most).
`--record` writes one node's raw probe output (for tests/unit/test_check.py's samples).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.cluster.preflight_probe import probe_script  # noqa: E402
from components.cluster.preflight_rules import fatal_count  # noqa: E402
from tests.e2e.check_stack import write_check_stack  # noqa: E402
from tests.e2e.hosts import cleanup_stale, start_hosts  # noqa: E402
from tools.check import run_check  # noqa: E402

SUBNET = "10.250.112.0/24"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--record", type=Path)
    args = ap.parse_args()
    cleanup_stale()
    with tempfile.TemporaryDirectory(prefix="homelab-bench-check-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "hosts").mkdir()
        with start_hosts(10, tmp / "hosts", subnet=SUBNET) as hosts:
            if args.record:
                argv = hosts[0].ssh_argv("bash -s")
                res = subprocess.run(argv, input=probe_script(), capture_output=True, text=True, check=True)
                args.record.write_text(res.stdout)
            print(f"{'machines':>8}  {'median s':>8}  {'min s':>6}  {'max s':>6}  fatal")
            for size in (3, 10):
                stack_dir = tmp / f"stack{size}"
                path = write_check_stack(stack_dir, hosts[:size], SUBNET)
                times: list[float] = []
                fatal = 0
                for _ in range(args.runs):
                    t0 = time.monotonic()
                    probes, _, _ = run_check("bench", path)
                    times.append(time.monotonic() - t0)
                    fatal = fatal_count(probes)
                print(f"{size:>8}  {statistics.median(times):>8.2f}  {min(times):>6.2f}  {max(times):>6.2f}  {fatal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
