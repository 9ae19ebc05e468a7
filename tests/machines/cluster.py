"""A real kubeadm cluster on the local machines, made by the program's own host scripts.

Pieces: the machines (tests/machines/local.py), the lab's air-gap mirror on their bridge
(tools.artifacts: apt repository + registry with images built from the toolchain's
binaries) and tools.hostrun, which runs the commands the program registers, in the
engine's order, over SSH. Shared by the cluster tests in tests/machines and the
cluster benchmarks (benchmarks/local_cluster.py, upgrade.py, etcd_snapshot_cluster.py).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.machines.local import LocalLab, LocalMachine
from tools.artifacts import toolchain
from tools.artifacts.mirror import Mirror, build, serve

# Ports of the test mirror on the test bridge: not the defaults, so a user's lab can run too.
TEST_APT_PORT = int(os.environ.get("HOMELAB_TEST_APT_PORT", "18080"))
TEST_REGISTRY_PORT = int(os.environ.get("HOMELAB_TEST_REGISTRY_PORT", "15000"))


def merge_config(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Stack config with `extra`'s keys added; a mapping for an existing section is merged in."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def lab_config(lab: LocalLab, mirror: Mirror, *, drop: tuple[str, ...] = (), **cluster: Any) -> dict[str, Any]:
    """The machines' stack file plus the mirror's keys; `drop` leaves nodes out; `cluster` overrides."""
    doc = yaml.safe_load(lab.stack_file.read_text())
    config = merge_config(doc["config"], mirror.info["stackConfig"])
    config["homelab:nodes"] = [n for n in config["homelab:nodes"] if n["name"] not in drop]
    if cluster:
        config["homelab:cluster"] = {**config["homelab:cluster"], **cluster}
    return config


def start_mirror(state: Path, address: str, *, with_previous: bool = False) -> Mirror:
    """Build (cached by tools.artifacts) and serve the mirror on the machines' bridge;
    `with_previous`: the previous Kubernetes' packages and images too (upgrades)."""
    build(state, log=lambda *_: None, with_previous=with_previous)
    return serve(state, address, TEST_APT_PORT, TEST_REGISTRY_PORT, log=lambda *_: None)


@contextmanager
def served_mirror(work: Path, lab: LocalLab, *, with_previous: bool = False) -> Iterator[Mirror]:
    """`start_mirror` in `work`/mirror on `lab`'s bridge, stopped when the block ends."""
    mirror = start_mirror(work / "mirror", lab.gateway, with_previous=with_previous)
    try:
        yield mirror
    finally:
        mirror.stop()


@dataclass(frozen=True)
class MachinesAndMirror:
    work: Path
    lab: LocalLab
    mirror: Mirror
    machines_s: float  # `up` of the machines
    mirror_s: float  # the mirror built (or taken from its cache) and served


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """A machine benchmark's arguments: its docstring's first paragraph says what it does, and
    `--keep` is for `machines_and_mirror`."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--keep", action="store_true", help="leave the machines running")
    return ap


@contextmanager
def machines_and_mirror(
    prefix: str, bridge: str, subnet: str, *, nodes: int = 3, with_previous: bool = False, keep: bool = False
) -> Iterator[MachinesAndMirror]:
    """For a benchmark: `nodes` machines made anew on their own `bridge` and `subnet`, and the
    mirror served on it, in a new directory named `prefix`*. Afterwards the mirror stops and,
    unless `keep`, the machines and the directory are removed."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    lab = LocalLab(state_dir=work / "machines", bridge=bridge, subnet=subnet)
    lab.state_dir.mkdir(mode=0o700)
    lab.down()  # whatever an interrupted run left on this bridge
    mirror = None
    try:
        t0 = time.monotonic()
        lab.up(nodes)
        t1 = time.monotonic()
        mirror = start_mirror(work / "mirror", lab.gateway, with_previous=with_previous)
        yield MachinesAndMirror(work, lab, mirror, t1 - t0, time.monotonic() - t1)
    finally:
        if mirror is not None:
            mirror.stop()
        if not keep:
            lab.down()
            shutil.rmtree(work, ignore_errors=True)


def write_stack_file(work: Path, config: Mapping[str, Any]) -> Path:
    """`config` as the stack file `work`/config/Pulumi.local.yaml, where the tools beside pulumi
    (check, backup, renew-certs) read it."""
    path = work / "config" / "Pulumi.local.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"config": dict(config)}, sort_keys=False))
    return path


def kubectl_binary() -> Path | None:
    return toolchain.find("kubectl")


@dataclass
class Kube:
    """kubectl on this machine with the kubeconfig the program read (a 0600 temp file)."""

    kubeconfig: str
    kubectl: Path

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        with tempfile.NamedTemporaryFile("w", suffix=".kubeconfig") as fh:
            os.chmod(fh.name, 0o600)
            fh.write(self.kubeconfig)
            fh.flush()
            return subprocess.run(
                [str(self.kubectl), "--kubeconfig", fh.name, "--request-timeout=20s", *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )

    def json(self, *args: str) -> dict[str, Any]:
        res = self.run(*args, "-o", "json")
        assert res.returncode == 0, res.stderr
        data: dict[str, Any] = json.loads(res.stdout)
        return data

    def node_names(self) -> list[str]:
        return sorted(item["metadata"]["name"] for item in self.json("get", "nodes")["items"])

    @property
    def ca_pem(self) -> str:
        doc = yaml.safe_load(self.kubeconfig)
        return base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]).decode()

    @property
    def server(self) -> str:
        return str(yaml.safe_load(self.kubeconfig)["clusters"][0]["cluster"]["server"])


def tls_handshake(address: str, port: int, server_name: str, ca_pem: str) -> dict[str, Any]:
    """A verifying TLS handshake (no skip): the peer certificate, or ssl.SSLError."""
    ctx = ssl.create_default_context(cadata=ca_pem)
    with socket.create_connection((address, port), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
            cert: dict[str, Any] = tls.getpeercert() or {}
            return cert


def etcd_members(machine: LocalMachine) -> list[dict[str, Any]]:
    """etcd's member list over its v3 JSON gateway, with the healthcheck client certificate."""
    pki = "/etc/kubernetes/pki/etcd"
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name in ("ca.crt", "healthcheck-client.crt", "healthcheck-client.key"):
            res = machine.ssh("cat", f"{pki}/{name}")
            assert res.returncode == 0, res.stderr
            p = Path(tmp) / name
            p.touch(mode=0o600)
            p.write_text(res.stdout)
            paths[name] = str(p)
        ctx = ssl.create_default_context(cafile=paths["ca.crt"])
        ctx.load_cert_chain(paths["healthcheck-client.crt"], paths["healthcheck-client.key"])
        req = urllib.request.Request(
            f"https://{machine.address}:2379/v3/cluster/member/list", data=b"{}", method="POST"
        )
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            members: list[dict[str, Any]] = json.loads(resp.read())["members"]
            return members


def host_file_state(machine: LocalMachine, *paths: str) -> dict[str, str]:
    """`stat` of each path on the machine ('' when absent): mtimes show whether a script ran."""
    out = {}
    for path in paths:
        res = machine.ssh(shlex.join(["stat", "-c", "%Y.%Z %s", path]))  # ssh joins argv with spaces
        out[path] = res.stdout.strip() if res.returncode == 0 else ""
    return out


def leftovers(machine: LocalMachine) -> list[str]:
    """Files a reset node still holds of the cluster (should be none; empty dirs may stay)."""
    script = "find /etc/kubernetes /var/lib/etcd /var/lib/kubelet -mindepth 1 ! -type d 2>/dev/null; true"
    res = machine.ssh(shlex.join(["bash", "-c", script]))
    return res.stdout.split()
