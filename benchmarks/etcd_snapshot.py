"""Snapshot size and time for an etcd with a few hundred objects (the real etcd 3.6).

    .venv/bin/python benchmarks/etcd_snapshot.py [--objects 300,1000,3000] [--runs 3]

etcd runs on loopback with kubeadm's PKI (made by the real kubeadm) and client-cert auth;
each "object" is a key named like a Kubernetes object with a ~1 KiB value (a typical
ConfigMap). The time is the whole rendered snapshot script (components/cluster/backup.py,
tools="host"): save, `etcdutl snapshot status`, move into place, prune. Needs the
toolchain's etcd, etcd-tools and kubernetes items.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.cluster.backup import EtcdBackup, snapshot_script  # noqa: E402
from tests.realbin.binaries import find_tool  # noqa: E402
from tests.realbin.etcd_tls import make_pki, put_objects, start_etcd, wait_healthy  # noqa: E402
from tools.etcd_backup import snapshot_location  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", default="300,1000,3000")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    tools = {k: find_tool(k) for k in ("etcd", "etcdctl", "etcdutl", "kubeadm")}
    missing = [k for k, v in tools.items() if v is None]
    if missing:
        print(f"missing {missing}: scripts/toolchain --only etcd,etcd-tools,kubernetes", file=sys.stderr)
        return 2
    paths = {k: v for k, v in tools.items() if v is not None}
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(paths["etcdctl"].parent), str(paths["etcdutl"].parent), os.environ["PATH"]]),
    }
    print(f"{'objects':>8}  {'snapshot MiB':>12}  {'median s':>8}  {'min s':>6}  {'max s':>6}")
    with tempfile.TemporaryDirectory(prefix="homelab-bench-etcd-") as tmp_name:
        tmp = Path(tmp_name)
        pki = make_pki(paths["kubeadm"], tmp / "pki")
        for count in (int(x) for x in args.objects.split(",")):
            work = tmp / f"n{count}"
            work.mkdir()
            server = start_etcd(paths["etcd"], pki, work / "data")
            try:
                wait_healthy(server, paths["etcdctl"])
                put_objects(server, paths["etcdctl"], count)
                backup = EtcdBackup(directory=str(work / "backups"), keep=args.runs)
                script = snapshot_script(
                    backup,
                    "bench",
                    tools="host",
                    pki_dir=str(pki),
                    endpoint=server.endpoint,
                    lock_file=str(work / "lock"),
                )
                times: list[float] = []
                size = 0
                for _ in range(args.runs):
                    t0 = time.monotonic()
                    res = subprocess.run(
                        ["bash", "-s"], input=script, capture_output=True, text=True, env=env, check=True
                    )
                    times.append(time.monotonic() - t0)
                    where = snapshot_location(res.stdout)
                    assert where is not None, res.stdout
                    size = where[1]
                    time.sleep(1.05)  # snapshot names are per second
            finally:
                server.stop()
            median = statistics.median(times)
            print(f"{count:>8}  {size / 1048576:>12.2f}  {median:>8.2f}  {min(times):>6.2f}  {max(times):>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
