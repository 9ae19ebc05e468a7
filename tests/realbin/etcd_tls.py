"""A real etcd with kubeadm's PKI and client-certificate auth, as on a control plane.

The PKI is made by the real kubeadm (`init phase certs all --cert-dir`), so the snapshot
script meets the same CA, server and healthcheck-client certificates as on a node. The
snapshot tests and benchmarks/etcd_snapshot.py use it.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .binaries import ManagedProcess, free_port, run, spawn, wait_for


@dataclass
class TlsEtcd:
    proc: ManagedProcess
    endpoint: str  # https://127.0.0.1:<port>
    pki: Path  # .../etcd: ca.crt, server.*, healthcheck-client.*
    data_dir: Path

    def ctl(self, etcdctl: Path, *args: str, stdin: str | None = None) -> str:
        argv = [
            str(etcdctl),
            f"--endpoints={self.endpoint}",
            f"--cacert={self.pki / 'ca.crt'}",
            f"--cert={self.pki / 'healthcheck-client.crt'}",
            f"--key={self.pki / 'healthcheck-client.key'}",
            *args,
        ]
        res = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"etcdctl {' '.join(args[:2])}: {res.stderr.strip()}")
        return res.stdout

    def stop(self) -> None:
        self.proc.stop()


def make_pki(kubeadm: Path, cert_dir: Path) -> Path:
    res = run([kubeadm, "init", "phase", "certs", "all", "--cert-dir", cert_dir, "--kubernetes-version", "v1.34.0"])
    if not res.ok:
        raise RuntimeError(f"kubeadm init phase certs all: {res.output}")
    return cert_dir / "etcd"


def start_etcd(etcd: Path, pki: Path, data_dir: Path, name: str = "cp01", peer: int | None = None) -> TlsEtcd:
    """etcd serving clients over TLS with client-cert auth on loopback (peers: plain, loopback)."""
    client, peer = free_port(), peer or free_port()
    endpoint = f"https://127.0.0.1:{client}"
    peer_url = f"http://127.0.0.1:{peer}"
    proc = spawn(
        f"etcd-{name}",
        [
            etcd,
            f"--name={name}",
            f"--data-dir={data_dir}",
            f"--listen-client-urls={endpoint}",
            f"--advertise-client-urls={endpoint}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster={name}={peer_url}",
            f"--cert-file={pki / 'server.crt'}",
            f"--key-file={pki / 'server.key'}",
            f"--trusted-ca-file={pki / 'ca.crt'}",
            "--client-cert-auth=true",
            "--listen-metrics-urls=",
            "--log-level=warn",
        ],
        data_dir.parent / f"etcd-{name}.log",
    )
    server = TlsEtcd(proc, endpoint, pki, data_dir)
    return server


def wait_healthy(server: TlsEtcd, etcdctl: Path, timeout: float = 60) -> None:
    def healthy() -> bool:
        out = server.ctl(etcdctl, "endpoint", "health", "-w", "json")
        return bool(json.loads(out)[0].get("health"))

    wait_for(f"etcd at {server.endpoint}", healthy, timeout, procs=[server.proc])


def object_value(i: int) -> str:
    return f"cm-{i:05d}-" + "x" * 1000


def put_objects(server: TlsEtcd, etcdctl: Path, count: int, prefix: str = "/registry/configmaps/default/") -> None:
    """`count` keys named like Kubernetes objects, ~1 KiB each, 100 per transaction.

    The value is one word (txn's line format splits on spaces): the key's index, padded."""
    for start in range(0, count, 100):
        puts = "".join(f"put {prefix}cm-{i:05d} {object_value(i)}\n" for i in range(start, min(count, start + 100)))
        server.ctl(etcdctl, "txn", stdin=f"\n{puts}\n\n")
