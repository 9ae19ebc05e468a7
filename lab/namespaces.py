"""`homelab:namespaces` → NamespacesArgs: the namespaces the stack writes into exist after `up`.

    homelab:namespaces:
      create: true                       # default: the stack makes sure they exist
      managedElsewhere: [monitoring]     # another tool owns these: used as they are, never touched

Named by the egress policies (`namespace` of a namespaced policy), the TLS Secrets
(`namespaces`) and the LAN attachment (`network.lanAttachment.namespaces`). Never
ensured: Kubernetes' own namespaces (default, kube-system, kube-public,
kube-node-lease), MetalLB's (the LoadBalancer makes it) and cert-manager's (its
install makes it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.egress import EgressPoliciesArgs
from components.loadbalancer.model import LoadBalancerArgs
from components.model import parse
from components.namespaces import SYSTEM_NAMESPACES, NamespacesArgs, NamespacesSection, to_ensure
from components.network.model import FlatNetworkArgs
from components.tls import TlsSecretsArgs
from components.validation import DNS1123_LABEL, Problems

KEY = "homelab:namespaces"


def named_by(
    network: FlatNetworkArgs | None,
    egress: EgressPoliciesArgs | None,
    tls: TlsSecretsArgs | None,
) -> dict[str, list[str]]:
    """Namespace → the settings that write into it (for messages)."""
    out: dict[str, list[str]] = {}

    def add(ns: str | None, where: str) -> None:
        if ns:
            out.setdefault(ns, []).append(where)

    if network is not None and network.lan_attachment is not None:
        for ns in network.lan_attachment.namespaces:
            add(ns, "homelab:network.lanAttachment")
    for i, policy in enumerate(egress.policies if egress else ()):
        if not policy.clusterwide:  # a clusterwide policy is a cluster-scoped object
            add(policy.namespace, f"homelab:egress[{i}]")
    for i, secret in enumerate(tls.secrets if tls else ()):
        for ns in secret.namespaces:
            add(ns, f"homelab:tls.secrets[{i}]")
    return out


def parse_namespaces(
    raw: Any,
    problems: Problems,
    *,
    network: FlatNetworkArgs | None,
    load_balancer: LoadBalancerArgs | None,
    egress: EgressPoliciesArgs | None,
    tls: TlsSecretsArgs | None,
) -> NamespacesArgs | None:
    """None when nothing is to be ensured (or `create: false`)."""
    section = parse(NamespacesSection, raw, KEY, problems)
    named = named_by(network, egress, tls)
    # Across entries, on every entry that is valid by itself (the model reports the others).
    listed = raw.get("managedElsewhere") if isinstance(raw, Mapping) else None
    seen: list[str] = []
    for i, ns in enumerate(listed if isinstance(listed, list) else []):
        key = f"{KEY}.managedElsewhere[{i}]"
        if not isinstance(ns, str) or not DNS1123_LABEL.match(ns):
            continue
        if ns in seen:
            problems.error(key, f"namespace {ns!r} is listed twice")
        elif ns in SYSTEM_NAMESPACES:
            problems.warn(key, f"{ns!r} is one of Kubernetes' own namespaces: the stack never touches it anyway")
        elif ns not in named:
            problems.warn(key, f"no setting writes into namespace {ns!r}")
        seen.append(ns)
    if section is None or not section.create:
        return None
    # Namespaces another component of the stack makes itself.
    own = {load_balancer.namespace} if load_balancer is not None else set()
    names = to_ensure(named, skip=[*section.managed_elsewhere, *own])
    return NamespacesArgs(names=names) if names else None
