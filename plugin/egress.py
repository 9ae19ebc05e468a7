"""EgressPolicies for other Pulumi languages: plugin-friendly inputs → EgressPoliciesArgs → the real component."""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

import pulumi

from components.egress.component import EgressPolicies as RealEgressPolicies
from components.egress.model import DEFAULT_DNS_LOOKUPS, EgressPoliciesArgs, EgressPolicy, Port
from components.validation import Problems
from plugin.inputs import check_plain, child_options, integer, optional_text, raise_if_any, string_map, strings, text

TOKEN = "homelab:index:EgressPolicies"


class PortProtocol(StrEnum):
    """Transport protocol of an allowed port."""

    Tcp = "TCP"
    """TCP."""
    Udp = "UDP"
    """UDP."""
    Any = "ANY"
    """Any protocol."""


class DnsLookupMode(StrEnum):
    """What the selected pods may look up through Cilium's DNS proxy."""

    All = "all"
    """Any name (they can still connect only to the allowed ones)."""
    Allowed = "allowed"
    """Only the allowed names and patterns."""


class EgressPortSettings(TypedDict):
    """A port the selected pods may reach on the allowed names."""

    port: int
    """Port number."""
    protocol: NotRequired[PortProtocol]
    """TCP (default), UDP or ANY."""


class EgressPolicySettings(TypedDict):
    """Pods matching selector (in namespace) may reach only the names in allow (plus DNS)."""

    name: str
    """Policy name."""
    allow: list[str]
    """Exact names (api.github.com) or Cilium patterns (*.k8s.intra; `*` stays within one label)."""
    namespace: NotRequired[str]
    """The pods' namespace (required unless clusterwide)."""
    selector: NotRequired[dict[str, str]]
    """Pod labels (default: every pod in the namespace)."""
    ports: NotRequired[list[EgressPortSettings]]
    """Allowed ports (default: any port and protocol)."""
    clusterwide: NotRequired[bool]
    """A CiliumClusterwideNetworkPolicy instead of a namespaced one."""
    dns: NotRequired[DnsLookupMode]
    """all (default) or allowed."""
    allow_all: NotRequired[bool]
    """Permit a bare `*` in allow (every name the pods resolved)."""
    description: NotRequired[str]
    """Shown in the policy's description field."""


class EgressPoliciesArgsInput(TypedDict):
    """Inputs of EgressPolicies."""

    policies: list[EgressPolicySettings]
    """The policies."""
    cilium_version: NotRequired[str]
    """The Cilium that enforces them (pattern rules differ between releases; default: the pinned one)."""
    dns_namespace: NotRequired[str]
    """Where the cluster DNS runs (default kube-system)."""
    dns_labels: NotRequired[dict[str, str]]
    """Labels of the cluster DNS pods (default k8s-app: kube-dns)."""


def egress_policies_args(args: Mapping[str, Any]) -> EgressPoliciesArgs:
    """The real component's EgressPoliciesArgs (it checks the policy rules itself when constructed)."""
    problems = Problems()
    check_plain(args, problems)
    raise_if_any("EgressPolicies", problems)
    policies: list[EgressPolicy] = []
    for i, raw in enumerate(args.get("policies") or []):
        ports = tuple(
            Port(
                port=integer(p.get("port"), f"policies[{i}].ports[{j}].port", problems, lo=1, hi=65535),
                protocol=text(p.get("protocol", "TCP")),
            )
            for j, p in enumerate(raw.get("ports") or [])
        )
        dns = text(raw.get("dns", DEFAULT_DNS_LOOKUPS))
        policies.append(
            EgressPolicy(
                name=text(raw.get("name", "")),
                allow=strings(raw.get("allow")),
                namespace=optional_text(raw.get("namespace")),
                selector=string_map(raw.get("selector")),
                ports=ports,
                clusterwide=bool(raw.get("clusterwide", False)),
                dns="allowed" if dns == "allowed" else "all",
                allow_all=bool(raw.get("allow_all", False)),
                description=optional_text(raw.get("description")),
            )
        )
        if dns not in ("all", "allowed"):
            problems.error(f"policies[{i}].dns", f"{dns!r} must be all or allowed")
    d = EgressPoliciesArgs()
    raise_if_any("EgressPolicies", problems)
    return EgressPoliciesArgs(
        policies=tuple(policies),
        cilium_version=text(args.get("cilium_version", d.cilium_version)),
        dns_namespace=text(args.get("dns_namespace", d.dns_namespace)),
        dns_labels=string_map(args["dns_labels"]) if args.get("dns_labels") else dict(d.dns_labels),
    )


class EgressPolicies(pulumi.ComponentResource):
    """FQDN egress allow-lists: one CiliumNetworkPolicy (or clusterwide policy) per policy.

    The CRDs come with Cilium: pass the cluster's Kubernetes provider and depend on the
    network in the resource options.
    """

    policy_refs: pulumi.Output[list[str]]
    """Kind/namespace/name of every policy written."""

    def __init__(self, name: str, args: EgressPoliciesArgsInput, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TOKEN, name, None, opts)
        inner = RealEgressPolicies(name, egress_policies_args(args), opts=child_options(self, opts))
        self.policy_refs = inner.policies
        self.register_outputs({"policyRefs": self.policy_refs})
