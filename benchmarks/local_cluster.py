#!/usr/bin/env python3
"""Figures for a real cluster on local machines, from empty machines to every node registered.

Makes 3 machines (2 control planes, 1 worker) on their own bridge, serves the air-gap mirror
on it, runs the program's host scripts with tools.hostrun, and prints:
- machine creation time (and memory per machine once the cluster runs),
- time to the first control plane initialised and to all nodes registered,
- each host script's own time, and a no-op re-run.
Everything is removed at the end. Needs root and the toolchain (scripts/toolchain).

    .venv/bin/python benchmarks/local_cluster.py [--keep]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.machines.cluster import Kube, bench_parser, kubectl_binary, lab_config, machines_and_mirror  # noqa: E402
from tests.machines.local import cannot_run_here  # noqa: E402
from tools import nspawn  # noqa: E402
from tools.hostrun import run_stack  # noqa: E402

BRIDGE = "hlbb0"
SUBNET = "10.254.0.0/24"


def main() -> int:
    args = bench_parser(__doc__).parse_args()
    if cannot_run_here():
        return 2
    with machines_and_mirror("homelab-bench-cluster-", BRIDGE, SUBNET, keep=args.keep) as bench:
        work, lab, mirror = bench.work, bench.lab, bench.mirror
        start = time.monotonic()
        result = run_stack(lab_config(lab, mirror), [], work / "hostrun.json", log=lambda _m: None)
        total = time.monotonic() - start
        init = next(e for e in result.executed if e.name.endswith("-init"))
        joins = [e for e in result.executed if e.name.endswith("-join")]
        kubectl = kubectl_binary()
        assert kubectl is not None
        kube = Kube(result.outputs["kubeconfig"], kubectl)
        nodes = kube.node_names()

        r0 = time.monotonic()
        noop = run_stack(lab_config(lab, mirror), [], work / "hostrun.json", log=lambda _m: None)
        t_noop = time.monotonic() - r0
        f0 = time.monotonic()
        forced = run_stack(lab_config(lab, mirror), [], work / "hostrun.json", always=True, log=lambda _m: None)
        t_forced = time.monotonic() - f0

        print(f"machines: 3 made in {bench.machines_s:.1f} s (base image cached or built inside)")
        print(f"mirror: built + served + images pushed in {bench.mirror_s:.1f} s")
        print(f"first control plane initialised: {init.finished - start:.1f} s after start")
        print(f"all nodes registered ({', '.join(nodes)}): {max(e.finished for e in joins) - start:.1f} s")
        print(f"whole run: {total:.1f} s, {len(result.executed)} commands")
        print("per host script:")
        for e in sorted(result.executed, key=lambda e: e.finished):
            print(f"  {e.seconds:7.1f} s  {e.action:<7} {e.name}  ({e.host})")
        print(f"no-op re-run: {t_noop:.1f} s, {len(noop.executed)} commands")
        print(f"every script again (idempotent): {t_forced:.1f} s, {len(forced.executed)} commands")
        state = lab.state()
        for m in state["machines"]:  # type: ignore[union-attr]
            layout = nspawn.MachineLayout(
                m["name"], BRIDGE, m["address"], 24, lab.gateway, lab.state_dir / "machines" / m["name"]
            )
            mem = nspawn.memory_bytes(layout)
            print(f"memory {m['name']}: {mem / 2**20:.0f} MiB" if mem else f"memory {m['name']}: n/a")
        return 0


if __name__ == "__main__":
    sys.exit(main())
