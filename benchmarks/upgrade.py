#!/usr/bin/env python3
"""Figures for a one-minor Kubernetes upgrade of the local 3-node cluster, whole and per node.

Makes 3 machines (2 control planes, 1 worker) on their own bridge, serves the air-gap mirror
(both Kubernetes versions) on it, brings the cluster up at the previous version with the
program's host scripts (tools.hostrun), bumps `kubernetesVersion` to the pinned one and runs
again. Prints the whole upgrade run, each node's time (its first upgrade step starting to
its last ending) and each upgrade step. Everything is removed at the end. Needs root, the
toolchain and the previous Kubernetes (scripts/toolchain --only
kubernetes-previous,kubernetes-node-previous).

    HOMELAB_TEST_BRIDGE=hlbt8 HOMELAB_TEST_SUBNET=10.248.0.0/24 .venv/bin/python benchmarks/upgrade.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.versions import DEFAULT_KUBERNETES_VERSION  # noqa: E402
from tests.machines.cluster import bench_parser, lab_config, machines_and_mirror  # noqa: E402
from tests.machines.local import cannot_run_here  # noqa: E402
from tests.machines.upgrade import bring_up_and_upgrade, previous_missing, previous_version  # noqa: E402

BRIDGE = os.environ.get("HOMELAB_TEST_BRIDGE", "hlbb1")
SUBNET = os.environ.get("HOMELAB_TEST_SUBNET", "10.253.0.0/24")
NODES = ["cp01", "cp02", "worker01"]


def main() -> int:
    args = bench_parser(__doc__).parse_args()
    if cannot_run_here():
        return 2
    if why := previous_missing():
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    with machines_and_mirror("homelab-bench-upgrade-", BRIDGE, SUBNET, with_previous=True, keep=args.keep) as bench:

        def config_at(version: str) -> dict[str, Any]:
            return lab_config(bench.lab, bench.mirror, kubernetesVersion=version)

        t1 = time.monotonic()
        up = bring_up_and_upgrade(bench.lab, config_at, bench.work / "hostrun.json", log=lambda _m: None)
        t_first = time.monotonic() - t1 - up.seconds
        print(f"mirror with both versions: built + served in {bench.mirror_s:.1f} s")
        print(f"cluster at {previous_version()}: {t_first:.1f} s ({len(up.before)} commands)")
        print(f"upgrade {previous_version()} -> {DEFAULT_KUBERNETES_VERSION}: whole run {up.seconds:.1f} s")
        for node, secs in up.per_node(NODES).items():
            print(f"  {node:<9} {secs:7.1f} s")
        print("per upgrade step:")
        for e in sorted(up.steps(), key=lambda e: e.finished):
            print(f"  {e.seconds:7.1f} s  {e.action:<7} {e.name}  ({e.host})")
        others = [e for e in up.executed if e not in up.steps()]
        print("other commands re-run by the bump: " + ", ".join(f"{e.name} {e.seconds:.1f} s" for e in others))
        return 0


if __name__ == "__main__":
    sys.exit(main())
