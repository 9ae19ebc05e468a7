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

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.versions import DEFAULT_KUBERNETES_VERSION  # noqa: E402
from tests.machines.cluster import lab_config, start_mirror  # noqa: E402
from tests.machines.local import LocalLab, missing  # noqa: E402
from tests.machines.upgrade import bring_up_and_upgrade, previous_missing, previous_version  # noqa: E402

BRIDGE = os.environ.get("HOMELAB_TEST_BRIDGE", "hlbb1")
SUBNET = os.environ.get("HOMELAB_TEST_SUBNET", "10.253.0.0/24")
NODES = ["cp01", "cp02", "worker01"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keep", action="store_true", help="leave the machines running")
    args = ap.parse_args()
    if why := missing():
        print("cannot run: " + "; ".join(why), file=sys.stderr)
        return 2
    if why := previous_missing():
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="homelab-bench-upgrade-"))
    lab = LocalLab(state_dir=work / "machines", bridge=BRIDGE, subnet=SUBNET)
    lab.state_dir.mkdir(mode=0o700)
    lab.down()
    mirror = None
    try:
        lab.up(3)
        t0 = time.monotonic()
        mirror = start_mirror(work / "mirror", lab.gateway, with_previous=True)
        t_mirror = time.monotonic() - t0

        def config_at(version: str) -> dict[str, Any]:
            assert mirror is not None
            return lab_config(lab, mirror, kubernetesVersion=version)

        t1 = time.monotonic()
        up = bring_up_and_upgrade(lab, config_at, work / "hostrun.json", log=lambda _m: None)
        t_first = time.monotonic() - t1 - up.seconds
        print(f"mirror with both versions: built + served in {t_mirror:.1f} s")
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
    finally:
        if mirror is not None:
            mirror.stop()
        if not args.keep:
            lab.down()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
