"""Rules for egress policies beyond the FQDN patterns: names, selectors, ports, duplicates."""

from __future__ import annotations

import re

from components.egress.model import DNS_LOOKUPS, PROTOCOLS, EgressPoliciesArgs, EgressPolicy, Port
from components.egress.patterns import fqdn_problem, normalise
from components.validation import DNS1123_LABEL, DNS1123_SUBDOMAIN

# The label Cilium gives every pod for its namespace.
NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace"
# Label sources a Cilium selector key may name; no prefix means any source.
LABEL_SOURCES = ("k8s", "any")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_RULE = "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"


def label_key_problem(key: str) -> str | None:
    """A Kubernetes label key, optionally with a Cilium source prefix (`k8s:app`)."""
    source, sep, rest = key.partition(":")
    if sep:
        if source not in LABEL_SOURCES:
            return f"label key {key!r}: source prefix must be one of {', '.join(LABEL_SOURCES)}"
        key = rest
    prefix, slash, name = key.rpartition("/")
    if slash and not DNS1123_SUBDOMAIN.match(prefix):
        return f"label key {key!r}: prefix {prefix!r} must be a DNS subdomain"
    if not _LABEL_NAME.match(name):
        return f"label key {key!r}: the name must be {_LABEL_RULE}"
    return None


def label_value_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"label value must be a string, got {value!r}"
    if value and not _LABEL_NAME.match(value):
        return f"label value {value!r} must be {_LABEL_RULE}"
    return None


def is_namespace_label(key: str) -> bool:
    return key.partition(":")[2] == "io.kubernetes.pod.namespace" or key == "io.kubernetes.pod.namespace"


def port_problem(port: Port) -> str | None:
    if isinstance(port.port, bool) or not isinstance(port.port, int) or not 1 <= port.port <= 65535:
        return f"port must be a number from 1 to 65535, got {port.port!r}"
    if port.protocol not in PROTOCOLS:
        return f"protocol must be one of {', '.join(PROTOCOLS)}, got {port.protocol!r}"
    return None


def policy_problems(policy: EgressPolicy, cilium_version: str) -> list[str]:
    """Every problem with one policy, each message naming its field."""
    out: list[str] = []
    if not DNS1123_SUBDOMAIN.match(policy.name or ""):
        out.append(f"name {policy.name!r} must be a DNS-1123 subdomain (lowercase, digits, '-', '.')")
    if policy.namespace is None:
        if not policy.clusterwide:
            out.append("namespace is required (or set clusterwide)")
    elif not DNS1123_LABEL.match(policy.namespace):
        out.append(f"namespace {policy.namespace!r} must be a DNS-1123 label")
    if policy.clusterwide and policy.namespace is None and not policy.selector:
        out.append(
            "a clusterwide policy with neither a selector nor a namespace would cut egress for every pod "
            "in the cluster, kube-system included"
        )
    for key, value in policy.selector.items():
        problem = label_key_problem(key) or label_value_problem(value)
        if problem:
            out.append(f"selector: {problem}")
        elif is_namespace_label(key) and not policy.clusterwide:
            out.append(f"selector: {key!r} is implied by the policy's namespace; use `namespace` instead")
    if not policy.allow:
        out.append("allow lists no names: say what the pods may reach")
    seen: set[str] = set()
    for entry in policy.allow:
        problem = fqdn_problem(entry, allow_all=policy.allow_all, cilium_version=cilium_version)
        if problem:
            out.append(f"allow: {problem}")
        elif normalise(entry) in seen:
            out.append(f"allow: {normalise(entry)!r} is listed twice")
        else:
            seen.add(normalise(entry))
    for port in policy.ports:
        problem = port_problem(port)
        if problem:
            out.append(f"ports: {problem}")
    if len(set(policy.ports)) != len(policy.ports):
        out.append("ports: a port/protocol is listed twice")
    if len(policy.ports) > 40:
        out.append(f"ports: Cilium takes at most 40 ports per rule, got {len(policy.ports)}")
    if policy.dns not in DNS_LOOKUPS:
        out.append(f"dns must be one of {', '.join(DNS_LOOKUPS)}, got {policy.dns!r}")
    return out


def policy_identity(policy: EgressPolicy) -> tuple[str, str]:
    """What must be unique: the kind's scope (namespace or the cluster) and the name."""
    return ("<cluster>" if policy.clusterwide else policy.namespace or "", policy.name)


def args_problems(args: EgressPoliciesArgs) -> list[str]:
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    for policy in args.policies:
        out.extend(f"policy {policy.name!r}: {p}" for p in policy_problems(policy, args.cilium_version))
        ident = policy_identity(policy)
        if ident in seen:
            out.append(f"policy {policy.name!r}: {ident[1]!r} is defined twice in {ident[0]}")
        seen.add(ident)
    return out
