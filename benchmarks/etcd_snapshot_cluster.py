#!/usr/bin/env python3
"""Snapshot size and time on a real kubeadm cluster (three local machines) with N ConfigMaps.

    .venv/bin/python benchmarks/etcd_snapshot_cluster.py [--objects 0,300,1000] [--runs 3]
        [--bridge hlbb1 --subnet 10.246.0.0/24]

Makes the machines, serves the air-gap mirror, brings the cluster up with the program's
host scripts (tools.hostrun) and `homelab:backup` on, then for each count creates that
many ConfigMaps (~1 KiB of data each, with kubectl) and takes snapshots on cp01 two ways:
`scripts/lab backup` from this machine (tools.etcd_backup: SSH + the script, etcdctl and
etcdutl in the etcd container via crictl) and the timer's service (`systemctl start`
over SSH). Prints the snapshot's size and key count, and median/min/max seconds.
Everything is removed at the end. Needs root and the toolchain (scripts/toolchain).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.machines.cluster import Kube, kubectl_binary, lab_config, machines_and_mirror, write_stack_file  # noqa: E402
from tests.machines.local import cannot_run_here  # noqa: E402
from tools.etcd_backup import main as backup_main  # noqa: E402
from tools.etcd_backup import snapshot_location  # noqa: E402
from tools.hostrun import run_stack  # noqa: E402

BACKUP_DIR = "/var/backups/homelab-etcd"
STATUS_KEYS = re.compile(r"^\|\s*\w+\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", re.M)  # hash | revision | total keys


def configmaps(start: int, stop: int) -> str:
    items = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"bench-{i:05d}", "namespace": "default", "labels": {"bench": "etcd-snapshot"}},
            "data": {"payload": (f"{i:05d}-" * 171)[:1024]},
        }
        for i in range(start, stop)
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def lab_backup(stack_file: Path) -> tuple[float, str, int, int]:
    """One `scripts/lab backup`: (seconds, path, bytes, total keys)."""
    out = io.StringIO()
    t0 = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = backup_main(["local", "--stack-file", str(stack_file)])
    secs = time.monotonic() - t0
    text = out.getvalue()
    where = snapshot_location(text)
    if code != 0 or where is None:
        raise RuntimeError(f"scripts/lab backup failed:\n{text}")
    keys = STATUS_KEYS.search(text)
    return secs, where[0], where[1], int(keys.group(2)) if keys else -1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", default="0,300,1000", help="ConfigMap counts, ascending")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bridge", default="hlbb1")
    ap.add_argument("--subnet", default="10.246.0.0/24")
    args = ap.parse_args()
    if cannot_run_here():
        return 2
    kubectl = kubectl_binary()
    if kubectl is None:
        print("no kubectl: scripts/toolchain --only kubernetes-node", file=sys.stderr)
        return 2
    with machines_and_mirror("homelab-bench-snap-", args.bridge, args.subnet) as bench:
        work, lab = bench.work, bench.lab
        config = lab_config(lab, bench.mirror)
        config["homelab:backup"] = {"schedule": "daily", "directory": BACKUP_DIR, "keep": args.runs * 2}
        result = run_stack(config, [], work / "hostrun.json", log=lambda _m: None)
        kube = Kube(result.outputs["kubeconfig"], kubectl)
        stack_file = write_stack_file(work, config)
        cp01 = lab.by_name("cp01")
        print(f"cluster: {', '.join(kube.node_names())} (2 control planes: etcd has 2 members)")
        print(f"{'ConfigMaps':>10}  {'keys':>5}  {'MiB':>6}  {'lab backup s (med/min/max)':>27}  "
              f"{'timer service s (med/min/max)':>30}")  # fmt: skip
        made = 0
        for count in (int(x) for x in args.objects.split(",")):
            if count > made:
                with tempfile.NamedTemporaryFile("w", suffix=".json", dir=work) as fh:
                    fh.write(configmaps(made, count))
                    fh.flush()
                    res = kube.run("create", "-f", fh.name, timeout=900)
                if res.returncode != 0:
                    raise RuntimeError(res.stderr[-2000:])
                made = count
            backups = [lab_backup(stack_file) for _ in range(args.runs)]
            service: list[float] = []
            for _ in range(args.runs):
                time.sleep(1.1)  # snapshot names have one-second resolution
                t0 = time.monotonic()
                r = cp01.ssh(shlex.join(["systemctl", "start", "homelab-etcd-snapshot.service"]), timeout=600)
                service.append(time.monotonic() - t0)
                if r.returncode != 0:
                    raise RuntimeError(f"snapshot service failed: {r.stderr}")
            secs = [b[0] for b in backups]
            size, keys = backups[-1][2], backups[-1][3]
            med = f"{statistics.median(secs):>9.2f} {min(secs):>8.2f} {max(secs):>8.2f}"
            svc = f"{statistics.median(service):>12.2f} {min(service):>8.2f} {max(service):>8.2f}"
            print(f"{count:>10}  {keys:>5}  {size / 2**20:>6.2f}  {med}  {svc}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
