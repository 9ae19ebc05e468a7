"""A real Kubernetes upgrade on the local machines: a cluster at the previous version made by
the program, then `kubernetesVersion` bumped and the program run again (tools.hostrun).

Shared by tests/machines/test_upgrade_real.py and benchmarks/upgrade.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.cluster import host_scripts
from components.cluster.model import NodeSpec, SshAccess
from components.versions import DEFAULT_KUBERNETES_VERSION
from tests.machines.local import LocalLab
from tools.artifacts import toolchain
from tools.artifacts.mirror import DEB_BINARIES, KUBE_IMAGE_BINARIES
from tools.hostrun import CommandFailed, Executed, run_stack

UPGRADE_STEPS = ("-upgrade-apply", "-upgrade-node", "-drain", "-kubelet", "-uncordon")


def previous_missing() -> str | None:
    """Why the previous Kubernetes cannot be served, with the command that builds it; None when it can."""
    try:
        prev = toolchain.previous(DEB_BINARIES + KUBE_IMAGE_BINARIES)
    except RuntimeError as exc:
        return str(exc)
    if prev is None:
        return f"the previous Kubernetes is not built: {toolchain.PREVIOUS_BUILD} (about 15 minutes of Go build)"
    if prev.kubernetes_version.split(".")[:2] == DEFAULT_KUBERNETES_VERSION.split(".")[:2]:
        return f"the previous build ({prev.kubernetes_version}) is not a minor before {DEFAULT_KUBERNETES_VERSION}"
    return None


def previous_version() -> str:
    prev = toolchain.previous(DEB_BINARIES + KUBE_IMAGE_BINARIES)
    assert prev is not None
    return prev.kubernetes_version


def reset_nodes(lab: LocalLab) -> None:
    """A blank slate on every machine (what the program's delete runs): the session's machines
    may carry the cluster of another test module."""
    for name in ("cp01", "cp02", "worker01"):
        machine = lab.by_name(name)
        node = NodeSpec(name=name, address=machine.address, role="worker", ssh=SshAccess(user="root", private_key=""))
        res = machine.ssh(host_scripts.SUDO_BASH, input=host_scripts.reset_script(node), timeout=300)
        assert res.returncode == 0, f"reset of {name}: {res.stderr}"


@dataclass
class Upgrade:
    before: list[Executed]
    executed: list[Executed]  # the bump's run
    seconds: float  # the bump's run, whole
    outputs: dict[str, Any]
    # When a step failed (a busy API server on this 2-core box, say): its message; the
    # rollout was then resumed by running again, as the next `up` would.
    stopped: str | None = None

    def steps(self) -> list[Executed]:
        return [e for e in self.executed if e.name.endswith(UPGRADE_STEPS)]

    def per_node(self, nodes: list[str]) -> dict[str, float]:
        """Time spent on each node: its own steps' seconds (the chain runs one step at a time,
        so this is the rollout's time on that node, without waiting for the others)."""
        out: dict[str, float] = {}
        for node in nodes:
            mine = [e for e in self.steps() if f"-{node}-" in e.name]
            if mine:
                out[node] = sum(e.seconds for e in mine)
        return out


def bring_up_and_upgrade(
    lab: LocalLab,
    config_at: Callable[[str], dict[str, Any]],
    state: Path,
    *,
    after_first: Callable[[], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> Upgrade:
    """`run_stack` at the previous version, then at the pinned one; `after_first` runs in between."""
    reset_nodes(lab)
    first = run_stack(config_at(previous_version()), [], state, log=log)
    if after_first is not None:
        after_first()
    t0 = time.monotonic()
    stopped: str | None = None
    executed: list[Executed] = []
    try:
        bumped = run_stack(config_at(DEFAULT_KUBERNETES_VERSION), [], state, log=log)
    except CommandFailed as err:
        stopped = str(err)
        print(f"\n!!! the upgrade stopped; resuming with a second run: {stopped}\n", flush=True)
        bumped = run_stack(config_at(DEFAULT_KUBERNETES_VERSION), [], state, log=log)
    executed = bumped.executed
    return Upgrade(first.executed, executed, time.monotonic() - t0, bumped.outputs, stopped)
