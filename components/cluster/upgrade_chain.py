"""The upgrade resources of KubeadmCluster, in kubeadm's order (scripts: upgrade.py).

    <cluster>-<first>-upgrade-apply   new kubeadm, `kubeadm upgrade plan` + `apply`
    <cluster>-<cp>-upgrade-node       every other control plane, one at a time
    then for each node, control planes first, one node at a time:
    <cluster>-<node>-drain            on the first control plane
    <cluster>-<node>-kubelet          on the node: packages re-pinned, kubelet restarted
    <cluster>-<node>-uncordon         on the first control plane: new version reported, uncordon

Each carries the version in its text and has only an `update` command, so a change of
`kubernetesVersion` runs exactly these (and nothing of the bootstrap), while a new cluster
or a new node runs none of them (no SSH session at create). Each is chained to the one
before, so a failing step stops the rollout at its node, and the next `up` resumes there
(the scripts skip what already runs the new version).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from components.cluster import upgrade
from components.cluster.day_two import CommandFactory
from components.cluster.model import ClusterSpec


def add_upgrade_apply(command: CommandFactory, name: str, spec: ClusterSpec, after: list[pulumi.Resource]) -> Any:
    """`<cluster>-<first>-upgrade-apply`; the cluster-config upload waits for it."""
    first = spec.first_control_plane
    script = upgrade.upgrade_first_control_plane_script(spec)
    return command(f"{name}-{first.name}-upgrade-apply", first, script, depends_on=after, update_only=True)


def add_rollout(
    command: CommandFactory,
    name: str,
    spec: ClusterSpec,
    apply: pulumi.Resource,
    members: Mapping[str, pulumi.Resource],
) -> Any:
    """`upgrade node` on the other control planes, then node by node; returns the last step.

    `members`: each node's init or join, which its steps wait for (a node added in the
    same `up` joins first and then finds nothing to upgrade).
    """
    first = spec.first_control_plane
    version = spec.kubernetes_version
    previous: Any = apply
    for cp in spec.control_planes[1:]:
        previous = command(
            f"{name}-{cp.name}-upgrade-node",
            cp,
            upgrade.upgrade_other_control_plane_script(spec),
            depends_on=[previous, members[cp.name]],
            update_only=True,
        )
    for node in [*spec.control_planes, *spec.workers]:
        drain = command(
            f"{name}-{node.name}-drain",
            first,
            upgrade.drain_script(node.name, version),
            depends_on=[previous, members[node.name]],
            update_only=True,
        )
        kubelet = command(
            f"{name}-{node.name}-kubelet",
            node,
            upgrade.kubelet_script(spec, node.name, node.is_control_plane, managed=node.prepare),
            depends_on=[drain],
            update_only=True,
        )
        previous = command(
            f"{name}-{node.name}-uncordon",
            first,
            upgrade.uncordon_script(node.name, version),
            depends_on=[kubelet],
            update_only=True,
        )
    return previous
