"""`scripts/lab renew-certs` for real: the real kubeadm renews a kubeadm-made PKI on the
control plane of a throwaway host, over SSH, and leaves the worker alone.

The host has no container runtime, so the restart of the static pods is skipped (the
script does it only where crictl exists); what is tested is the one command and the
tool's order over the stack's control planes.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.check_stack import write_check_stack
from tests.e2e.hosts import E2EHost, hosts_or_skip
from tests.realbin.binaries import require_tool
from tools.renew_certs import main as renew_main

SUBNET = "10.250.113.0/24"


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[E2EHost]]:
    kubeadm = require_tool("kubeadm")
    with hosts_or_skip(tmp_path_factory.mktemp("renew-hosts"), 2, subnet=SUBNET, names=["cp01", "worker01"]) as started:
        for h in started:
            h.put_on_path({"kubeadm": kubeadm})
        yield started


def _serial(path: Path) -> str:
    res = subprocess.run(["openssl", "x509", "-in", str(path), "-noout", "-serial"], capture_output=True, text=True)
    return res.stdout.strip()


def test_renews_the_control_planes_only(hosts: list[E2EHost], tmp_path: Path) -> None:
    cp01, worker01 = hosts
    for h in hosts:
        made = h.ssh("kubeadm init phase certs all --kubernetes-version v1.34.0 >/dev/null")
        assert made.returncode == 0, made.stderr
    cp_cert = cp01.root / "etc/kubernetes/pki/apiserver.crt"
    worker_cert = worker01.root / "etc/kubernetes/pki/apiserver.crt"
    before = (_serial(cp_cert), _serial(worker_cert))
    path = write_check_stack(tmp_path, hosts, SUBNET)
    assert renew_main(["e2e", "--stack-file", str(path)]) == 0
    assert _serial(cp_cert) != before[0]  # renewed
    assert _serial(worker_cert) == before[1]  # a worker is not a control plane
