"""KubeadmCluster's day-two resources: etcd snapshot timers and certificate expiry readings.

Kept apart from the bootstrap (component.py): each function adds remote commands
through the component's own command factory, one per control plane, after that
control plane's init or join.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import pulumi

from components.cluster import backup as snapshots
from components.cluster import upgrade
from components.cluster.cert_expiry import check_expiration_script, expiry_warnings, parse_check_expiration
from components.cluster.model import ClusterSpec, NodeSpec
from components.cluster.preflight_probe import parse_facts, probe_script
from components.cluster.preflight_rules import NodeProbe, evaluate, new_node_blockers


class CommandFactory(Protocol):
    def __call__(
        self,
        resource_name: str,
        node: NodeSpec,
        script: pulumi.Input[str],
        *,
        delete: str | None = ...,
        depends_on: list[pulumi.Resource] | None = ...,
        update_only: bool = ...,
    ) -> Any: ...


def add_etcd_backups(
    command: CommandFactory,
    name: str,
    spec: ClusterSpec,
    backup: snapshots.EtcdBackup,
    after: Mapping[str, pulumi.Resource],
) -> list[Any]:
    """`<cluster>-<cp>-etcd-backup` per control plane: re-run when its rendered text changes;
    deleting it stops and removes the timer (the snapshots stay)."""
    return [
        command(
            f"{name}-{cp.name}-etcd-backup",
            cp,
            snapshots.install_script(backup, cp.name),
            delete=snapshots.uninstall_script(),
            depends_on=[after[cp.name]],
        )
        for cp in spec.control_planes
    ]


def add_cert_expiry(
    command: CommandFactory,
    name: str,
    spec: ClusterSpec,
    after: Mapping[str, pulumi.Resource],
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> pulumi.Output[dict[str, list[dict[str, object]]]]:
    """`<cluster>-<cp>-cert-expiry` per control plane; returns {node: [certificate, ...]}.

    The script text carries today's date, so `up` re-reads once a day; a preview warns
    from the last reading whenever the resource is unchanged.
    """
    day = now().strftime("%Y-%m-%d")
    readings: dict[str, pulumi.Output[list[dict[str, object]]]] = {}
    for cp in spec.control_planes:
        cmd = command(f"{name}-{cp.name}-cert-expiry", cp, check_expiration_script(day), depends_on=[after[cp.name]])
        readings[cp.name] = cmd.stdout.apply(lambda out, n=cp.name: _reading(n, out, now()))
    return pulumi.Output.all(**readings).apply(dict) if readings else pulumi.Output.from_input({})


def _reading(node: str, stdout: str | None, now: datetime) -> list[dict[str, object]]:
    if not stdout:
        return []
    try:
        certs = parse_check_expiration(stdout)
    except (ValueError, KeyError, TypeError) as exc:
        pulumi.log.warn(f"{node}: cannot read `kubeadm certs check-expiration`: {exc}")
        return []
    for line in expiry_warnings(f"control plane {node}", certs, now):
        pulumi.log.warn(line)
    return [c.as_output() for c in certs]


class PreflightFailed(RuntimeError):
    """A host new to the stack fails the preflight; nothing was changed on it."""


def add_preflight(
    command: CommandFactory, name: str, spec: ClusterSpec, lan_interface: str | None = None
) -> tuple[dict[str, Any], dict[str, pulumi.Output[None]]]:
    """`<cluster>-<node>-preflight` per node: the read-only probe of `scripts/lab check`.

    A remote command runs its create once, so each host is probed when it is new to the
    stack. Each node's gate resolves once its probe, and those of the nodes listed before
    it, have answered and nothing fatal was found on it while it is new (not yet in a
    cluster); otherwise it raises PreflightFailed, which stops `up` before that node's
    prepare. Only earlier nodes count, so that adding a node (at the end of the list)
    leaves the gates, and so the previews, of the others unchanged; a clone of an earlier
    machine is caught on the new one. Empty answers (mocks) are skipped.
    """
    probes = {node.name: command(f"{name}-{node.name}-preflight", node, probe_script()) for node in spec.nodes}

    def judge(outputs: dict[str, str | None], node_name: str) -> None:
        nodes: list[NodeProbe] = []
        for node in spec.nodes:
            out = outputs.get(node.name) or ""
            if "probe=" in out:
                nodes.append(NodeProbe(name=node.name, address=node.address, role=node.role, prepare=node.prepare,
                                       facts=parse_facts(out)))  # fmt: skip
        evaluate(nodes, lan_interface)
        blockers = [b for b in new_node_blockers(nodes) if b.startswith(f"{node_name}: ")]
        if blockers:
            lines = "\n".join(f"  - {b}" for b in blockers)
            raise PreflightFailed(
                f"preflight: {len(blockers)} problem(s) on {node_name}, which is new to the stack; "
                f"nothing was changed on it:\n{lines}\n(`scripts/lab check <stack>` shows the whole report)"
            )

    gates: dict[str, pulumi.Output[None]] = {}
    for i, node in enumerate(spec.nodes):
        upto = {n.name: probes[n.name].stdout for n in spec.nodes[: i + 1]}
        gates[node.name] = pulumi.Output.all(**upto).apply(lambda outs, n=node.name: judge(outs, n))
    return probes, gates


def add_version_guard(command: CommandFactory, name: str, spec: ClusterSpec) -> Any:
    """`<cluster>-running-version` on the first control plane; every prepare depends on it.

    It runs when the requested version changes (the version is in its text) and fails,
    naming the running and the requested version, when kubeadm cannot move the cluster
    there (a skipped minor, a downgrade); nothing on any host changes then. An allowed
    change passes on to the upgrade steps (upgrade_chain.py).
    """
    first = spec.first_control_plane
    return command(f"{name}-running-version", first, upgrade.running_version_script(spec.kubernetes_version))
