"""CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy manifests (cilium.io/v2) as plain dicts.

Each policy has two egress rules, because a toFQDNs rule may not carry other L3
selectors (toEndpoints, toCIDR...):
  1. DNS to kube-dns on port 53 with an L7 `dns` rule. Without it Cilium's DNS proxy
     never sees the lookups, learns no IPs, and the toFQDNs rule allows nothing.
  2. toFQDNs with the allowed names/patterns, optionally limited to some ports.
Selecting a pod with any egress rule switches it to default-deny for egress.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.egress.check import NAMESPACE_LABEL
from components.egress.model import EgressPolicy
from components.egress.patterns import selector

API_VERSION = "cilium.io/v2"
NAMESPACED_KIND = "CiliumNetworkPolicy"
CLUSTERWIDE_KIND = "CiliumClusterwideNetworkPolicy"
MANAGED_BY = {"app.kubernetes.io/managed-by": "homelab"}


def kind_of(policy: EgressPolicy) -> str:
    return CLUSTERWIDE_KIND if policy.clusterwide else NAMESPACED_KIND


def endpoint_selector(policy: EgressPolicy) -> dict[str, Any]:
    labels = dict(policy.selector)
    if policy.clusterwide and policy.namespace is not None:
        labels[NAMESPACE_LABEL] = policy.namespace
    return {"matchLabels": labels} if labels else {}


def dns_rule(policy: EgressPolicy, dns_namespace: str, dns_labels: Mapping[str, str]) -> dict[str, Any]:
    """Egress to the cluster DNS through Cilium's DNS proxy (UDP and TCP 53)."""
    if policy.dns == "all":
        lookups: list[dict[str, str]] = [{"matchPattern": "*"}]
    else:
        lookups = [selector(entry) for entry in policy.allow]
    to_dns = {NAMESPACE_LABEL: dns_namespace, **{f"k8s:{k}": v for k, v in dns_labels.items()}}
    return {
        "toEndpoints": [{"matchLabels": to_dns}],
        "toPorts": [{"ports": [{"port": "53", "protocol": "ANY"}], "rules": {"dns": lookups}}],
    }


def fqdn_rule(policy: EgressPolicy) -> dict[str, Any]:
    rule: dict[str, Any] = {"toFQDNs": [selector(entry) for entry in policy.allow]}
    if policy.ports:
        rule["toPorts"] = [{"ports": [{"port": str(p.port), "protocol": p.protocol} for p in policy.ports]}]
    return rule


def describe(policy: EgressPolicy) -> str:
    ports = ", ".join(f"{p.port}/{p.protocol}" for p in policy.ports) or "any port"
    return f"egress only to {', '.join(policy.allow)} ({ports}) and DNS; everything else is dropped"


def render_policy(
    policy: EgressPolicy,
    *,
    dns_namespace: str = "kube-system",
    dns_labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The whole custom resource for one policy."""
    metadata: dict[str, Any] = {"name": policy.name, "labels": dict(MANAGED_BY)}
    if not policy.clusterwide:
        metadata["namespace"] = policy.namespace
    return {
        "apiVersion": API_VERSION,
        "kind": kind_of(policy),
        "metadata": metadata,
        "spec": {
            "description": policy.description or describe(policy),
            "endpointSelector": endpoint_selector(policy),
            "egress": [
                dns_rule(policy, dns_namespace, dns_labels or {"k8s-app": "kube-dns"}),
                fqdn_rule(policy),
            ],
        },
    }
