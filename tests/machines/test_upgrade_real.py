"""A real one-minor Kubernetes upgrade on three local machines, by the program's own resources.

The cluster is made at the previous pinned version (components.versions.PREVIOUS_KUBERNETES_VERSION,
as scripts/toolchain built it), `homelab:cluster.kubernetesVersion` is bumped to the
pinned one, and the program runs again under tools.hostrun (which re-runs a command whose
inputs changed, as pulumi-command does). The mirror serves both versions: one apt
repository per minor and both releases' images. The nodes have no CNI, so they stay
NotReady: the rollout waits for each kubelet to report the new version instead of Ready.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.cluster.upgrade import UPGRADE_LOG
from components.versions import DEFAULT_KUBERNETES_VERSION
from tests.machines.cluster import Kube, host_file_state, lab_config, served_mirror
from tests.machines.conftest import require_cluster_tools
from tests.machines.local import LocalLab
from tests.machines.upgrade import Upgrade, bring_up_and_upgrade, previous_missing, previous_version
from tools.hostrun import run_stack

pytestmark = pytest.mark.machines

INIT_MARKER = "/etc/kubernetes/homelab/initialised"
NODES = ["cp01", "cp02", "worker01"]


@dataclass
class Upgraded:
    lab: LocalLab
    config: dict[str, Any]
    state: Path
    previous: str
    upgrade: Upgrade
    kube: Kube
    before: dict[str, Any]


@pytest.fixture(scope="module")
def upgraded(clean_machines: LocalLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upgraded]:
    _, kubectl = require_cluster_tools()
    if why := previous_missing():
        pytest.skip(f"PREVIOUS KUBERNETES MISSING -- {why}")
    work = tmp_path_factory.mktemp("upgrade")
    work.chmod(0o700)
    with served_mirror(work, clean_machines, with_previous=True) as mirror:
        state = work / "hostrun.json"
        cp01 = clean_machines.by_name("cp01")
        before: dict[str, Any] = {}

        def config_at(version: str) -> dict[str, Any]:
            return lab_config(clean_machines, mirror, kubernetesVersion=version)

        def look_before() -> None:
            before["init"] = host_file_state(cp01, INIT_MARKER)
            before["server"] = cp01.ssh("kubectl --kubeconfig /etc/kubernetes/admin.conf version -o json").stdout
            before["uids"] = cp01.ssh(
                "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o "
                "jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid} {end}'"
            ).stdout.split()

        result = bring_up_and_upgrade(clean_machines, config_at, state, after_first=look_before)
        yield Upgraded(
            clean_machines,
            config_at(DEFAULT_KUBERNETES_VERSION),
            state,
            previous_version(),
            result,
            Kube(result.outputs["kubeconfig"], kubectl),
            before,
        )


def test_the_cluster_started_at_the_previous_version(upgraded: Upgraded) -> None:
    assert f'"gitVersion": "v{upgraded.previous}"' in upgraded.before["server"]


def test_the_api_server_runs_the_new_version(upgraded: Upgraded) -> None:
    server = upgraded.kube.json("version")["serverVersion"]["gitVersion"]
    assert server == f"v{DEFAULT_KUBERNETES_VERSION}"


def test_every_kubelet_runs_the_new_version_and_no_node_is_cordoned(upgraded: Upgraded) -> None:
    nodes = upgraded.kube.json("get", "nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == NODES
    for n in nodes:
        assert n["status"]["nodeInfo"]["kubeletVersion"] == f"v{DEFAULT_KUBERNETES_VERSION}", n["metadata"]["name"]
        assert not n["spec"].get("unschedulable"), f"{n['metadata']['name']} is still cordoned"


def test_the_upgrade_ran_in_kubeadm_order_once(upgraded: Upgraded) -> None:
    names = [e.name for e in upgraded.upgrade.executed]
    order = ["lab-local-cp01-upgrade-apply", "lab-local-cp02-upgrade-node"]
    for node in NODES:
        order += [f"lab-local-{node}-drain", f"lab-local-{node}-kubelet", f"lab-local-{node}-uncordon"]
    ran = [n for n in names if n in order]
    if upgraded.upgrade.stopped is None:
        assert ran == order
    else:  # a step failed (named in the message) and the next run resumed there: the rest, in order
        assert "lab-local-" in upgraded.upgrade.stopped
        assert ran and ran == order[len(order) - len(ran) :], (upgraded.upgrade.stopped, ran)
    # On the host: one `kubeadm upgrade apply`, on the first control plane, from the old version.
    log = upgraded.lab.by_name("cp01").ssh(f"cat {UPGRADE_LOG}").stdout.splitlines()
    applies = [line for line in log if "kubeadm upgrade apply" in line]
    assert len(applies) == 1 and f"v{upgraded.previous} -> v{DEFAULT_KUBERNETES_VERSION}" in applies[0], log
    assert "kubeadm upgrade node" in upgraded.lab.by_name("cp02").ssh(f"cat {UPGRADE_LOG}").stdout


def test_nothing_was_initialised_or_joined_again(upgraded: Upgraded) -> None:
    names = {e.name for e in upgraded.upgrade.executed}
    assert not any(n.endswith(("-init", "-join", "-join-token", "-kubeconfig")) for n in names), names
    cp01 = upgraded.lab.by_name("cp01")
    assert host_file_state(cp01, INIT_MARKER) == upgraded.before["init"]
    uids = sorted(
        f"{n['metadata']['name']}={n['metadata']['uid']}" for n in upgraded.kube.json("get", "nodes")["items"]
    )
    assert uids == sorted(upgraded.before["uids"]), "a node registered again"


def test_a_rerun_changes_nothing(upgraded: Upgraded) -> None:
    again = run_stack(upgraded.config, [], upgraded.state)
    assert again.executed == [], [e.name for e in again.executed]
    forced = run_stack(upgraded.config, [], upgraded.state, always=True)
    applies = upgraded.lab.by_name("cp01").ssh(f"grep -c 'kubeadm upgrade apply' {UPGRADE_LOG}").stdout.strip()
    assert applies == "1", "every script again must not upgrade again"
    assert {"lab-local-cp01-upgrade-apply", "lab-local-worker01-kubelet"} <= {e.name for e in forced.executed}
