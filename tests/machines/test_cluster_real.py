"""A real kubeadm cluster from the program's own host scripts, on three local machines.

The program runs under the mock runtime; tools.hostrun runs each command it registers
on its machine over SSH, in the engine's order (no pulumi-command provider is served
here; tests/e2e covers the engine where the plugins exist). Scenarios, in order:
a failed init (wrong image repository) is reported and repaired by the next run; the
cluster comes up (init, a control-plane join, a worker join); the API server's
certificate verifies on every name; etcd has a member per control plane; the program's
kubeconfig is an admin kubeconfig; running every script again changes nothing; removing
the worker from the stack drains, deletes and resets it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.machines.cluster import (
    Kube,
    etcd_members,
    host_file_state,
    lab_config,
    leftovers,
    served_mirror,
    tls_handshake,
)
from tests.machines.conftest import require_cluster_tools
from tests.machines.local import LocalLab
from tools.hostrun import CommandFailed, Executed, run_stack

pytestmark = pytest.mark.machines

INIT_FILES = ("/etc/kubernetes/homelab/initialised", "/etc/kubernetes/homelab/kubeadm-init.log")


@dataclass
class Cluster:
    lab: LocalLab
    config: dict[str, Any]
    state: Path
    failed_init: CommandFailed | None
    executed: list[Executed]
    outputs: dict[str, Any]
    kube: Kube
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def cluster(clean_machines: LocalLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _, kubectl = require_cluster_tools()
    work = tmp_path_factory.mktemp("cluster")
    work.chmod(0o700)
    with served_mirror(work, clean_machines) as mirror:
        state = work / "hostrun.json"
        good = lab_config(clean_machines, mirror)
        repo = good["homelab:cluster"]["imageRepository"]
        failed: CommandFailed | None = None
        try:
            run_stack(lab_config(clean_machines, mirror, imageRepository=f"{repo}/missing"), [], state)
        except CommandFailed as err:
            failed = err
        t0 = time.monotonic()
        result = run_stack(good, [], state)
        seconds = time.monotonic() - t0
        yield Cluster(
            clean_machines,
            good,
            state,
            failed,
            result.executed,
            result.outputs,
            Kube(result.outputs["kubeconfig"], kubectl),
            seconds,
        )


def test_failed_init_is_reported_then_repaired(cluster: Cluster) -> None:
    cp01 = cluster.lab.by_name("cp01")
    assert cluster.failed_init is not None, "kubeadm init with a missing image repository did not fail"
    text = str(cluster.failed_init)
    assert "cp01-init" in text and cp01.address in text
    # The good run initialised the same host: the marker exists now.
    assert all(host_file_state(cp01, *INIT_FILES).values())


def test_every_node_registered(cluster: Cluster) -> None:
    assert cluster.kube.node_names() == ["cp01", "cp02", "worker01"]
    names = [e.name for e in cluster.executed]
    assert names.index("lab-local-cp01-init") < names.index("lab-local-cp02-join")
    assert names.index("lab-local-cp02-join") < names.index("lab-local-worker01-join") or any(
        "worker01-join" in n for n in names
    )


def test_apiserver_certificate_verifies_on_every_name(cluster: Cluster) -> None:
    ca = cluster.kube.ca_pem
    endpoint = cluster.kube.server.removeprefix("https://").rsplit(":", 1)[0]
    for cp in ("cp01", "cp02"):
        m = cluster.lab.by_name(cp)
        for name in (m.address, m.name, endpoint):
            cert = tls_handshake(m.address, 6443, name, ca)
            assert cert, f"no certificate from {m.name} for {name}"


def test_etcd_has_a_member_per_control_plane(cluster: Cluster) -> None:
    members = etcd_members(cluster.lab.by_name("cp01"))
    assert sorted(m["name"] for m in members) == ["cp01", "cp02"]


def test_program_kubeconfig_is_admin(cluster: Cluster) -> None:
    res = cluster.kube.run("auth", "can-i", "*", "*", "--all-namespaces")
    assert res.returncode == 0 and res.stdout.strip() == "yes", res.stderr


def test_running_every_script_again_changes_nothing(cluster: Cluster) -> None:
    cp01 = cluster.lab.by_name("cp01")
    before_files = host_file_state(cp01, *INIT_FILES)
    before_nodes = {n["metadata"]["name"]: n["metadata"]["uid"] for n in cluster.kube.json("get", "nodes")["items"]}
    before_members = sorted(m["ID"] for m in etcd_members(cp01))

    unchanged = run_stack(cluster.config, [], cluster.state)
    assert unchanged.executed == [], "an unchanged stack ran commands"

    forced = run_stack(cluster.config, [], cluster.state, always=True)
    ran = {e.name for e in forced.executed}
    assert ran >= {"lab-local-cp01-init", "lab-local-cp02-join", "lab-local-worker01-join"}
    assert host_file_state(cp01, *INIT_FILES) == before_files, "kubeadm init ran again"
    after_nodes = {n["metadata"]["name"]: n["metadata"]["uid"] for n in cluster.kube.json("get", "nodes")["items"]}
    assert after_nodes == before_nodes, "a node joined again"
    assert sorted(m["ID"] for m in etcd_members(cp01)) == before_members


def test_removing_the_worker_drains_deletes_and_resets_it(cluster: Cluster) -> None:
    worker = cluster.lab.by_name("worker01")
    assert not leftovers(worker) == [], "the worker has no cluster files before removal"
    config = dict(cluster.config)
    config["homelab:nodes"] = [n for n in config["homelab:nodes"] if n["name"] != "worker01"]
    result = run_stack(config, [], cluster.state)
    actions = {(e.name, e.action) for e in result.executed}
    assert ("lab-local-worker01-membership", "delete") in actions  # drain + delete on cp01
    assert ("lab-local-worker01-join", "delete") in actions  # kubeadm reset on the worker
    assert cluster.kube.node_names() == ["cp01", "cp02"]
    assert leftovers(worker) == []
