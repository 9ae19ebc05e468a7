"""`homelab:egress` → EgressPoliciesArgs: a list of FQDN allow-lists for selected pods.

    homelab:egress:
      - {name: net-to-intra, namespace: default, selector: {app: net}, allow: ["*.k8s.intra"]}
      - name: updates
        namespace: apps
        selector: {app: updater}
        allow: [api.github.com, "*.debian.org"]
        ports: [443, {port: 80, protocol: TCP}]   # default: any port; a bare number is TCP
        dns: all            # all (default): may look up any name | allowed: only the allowed ones
      - {name: lab-only, clusterwide: true, selector: {tier: sandbox}, allow: ["*.k8s.intra"]}

Optional per entry: `clusterwide`, `allowAll` (accept a bare "*"), `description`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.egress.check import (
    is_namespace_label,
    label_key_problem,
    label_value_problem,
    port_problem,
)
from components.egress.model import (
    DEFAULT_DNS_LOOKUPS,
    DNS_LOOKUPS,
    PROTOCOLS,
    EgressPoliciesArgs,
    EgressPolicy,
    Port,
)
from components.egress.patterns import fqdn_problem, normalise
from components.validation import DNS1123_LABEL, DNS1123_SUBDOMAIN, Problems
from components.versions import CILIUM_VERSION
from lab.context import LabContext, Section

KEY = "homelab:egress"
FIELDS = {"name", "namespace", "selector", "allow", "ports", "clusterwide", "dns", "allowAll", "description"}


def _port(raw: Any, key: str, problems: Problems) -> Port | None:
    """`443` (TCP) or `{port: 53, protocol: UDP}`."""
    if isinstance(raw, Mapping):
        sec = Section(raw, key, problems)
        sec.unknown({"port", "protocol"})
        number, number_key = raw.get("port"), sec.sub("port")
        protocol = (sec.str("protocol", "TCP") or "TCP").upper()
        if protocol not in PROTOCOLS:
            problems.error(sec.sub("protocol"), f"must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
            return None
    else:
        number, number_key, protocol = raw, key, "TCP"
    if number is None:
        problems.error(number_key, "is required")
        return None
    if isinstance(number, bool) or not isinstance(number, int):
        problems.error(number_key, f"must be a port number from 1 to 65535, got {number!r}")
        return None
    port = Port(number, protocol)
    problem = port_problem(port)
    if problem:
        problems.error(number_key, problem)
        return None
    return port


def _policy(raw: Any, key: str, version: str, problems: Problems) -> EgressPolicy | None:
    if not isinstance(raw, Mapping):
        problems.error(key, f"must be a mapping (name, namespace, selector, allow...), got {type(raw).__name__}")
        return None
    before = len(problems.errors)
    sec = Section(raw, key, problems)
    sec.unknown(FIELDS)
    name = sec.str("name", required=True)
    if name is not None and not DNS1123_SUBDOMAIN.match(name):
        problems.error(sec.sub("name"), f"{name!r} must be a DNS-1123 subdomain (lowercase, digits, '-', '.')")
    clusterwide = sec.bool("clusterwide", False)
    allow_all = sec.bool("allowAll", False)
    namespace = sec.str("namespace", required=not clusterwide)
    if namespace is not None and not DNS1123_LABEL.match(namespace):
        problems.error(sec.sub("namespace"), f"{namespace!r} must be a namespace name (DNS-1123 label)")

    selector: dict[str, str] = {}
    for lkey, lvalue in sec.mapping("selector").items():
        skey = f"{sec.sub('selector')}[{lkey}]"
        problem = label_key_problem(str(lkey)) or label_value_problem(lvalue)
        if problem:
            problems.error(skey, problem)
        elif is_namespace_label(str(lkey)) and not clusterwide:
            problems.error(skey, "the pod's namespace comes from `namespace`; don't select on it here")
        else:
            selector[str(lkey)] = lvalue
    if not clusterwide and namespace is not None and not sec.mapping("selector"):
        problems.warn(sec.sub("selector"), f"no selector: the policy applies to every pod in namespace {namespace}")
    if clusterwide and namespace is None and not sec.mapping("selector"):
        problems.error(
            sec.sub("selector"),
            "a clusterwide policy needs a selector or a namespace: without either it would cut egress "
            "for every pod in the cluster, kube-system included",
        )

    allow: list[str] = []
    allow_raw = sec.list("allow")
    if "allow" not in sec.raw:
        problems.error(sec.sub("allow"), "is required: the names the pods may reach")
    elif sec.raw["allow"] is None or sec.raw["allow"] == []:
        problems.error(sec.sub("allow"), "lists no names: say what the pods may reach")
    for i, entry in enumerate(allow_raw):
        akey = f"{sec.sub('allow')}[{i}]"
        problem = fqdn_problem(entry, allow_all=allow_all, cilium_version=version)
        if problem:
            problems.error(akey, problem)
            continue
        entry = normalise(entry)
        if entry in allow:
            problems.error(akey, f"{entry!r} is listed twice")
            continue
        allow.append(entry)

    ports: list[Port] = []
    for i, praw in enumerate(sec.list("ports")):
        pkey = f"{sec.sub('ports')}[{i}]"
        port = _port(praw, pkey, problems)
        if port is None:
            continue
        if port in ports:
            problems.error(pkey, f"{port.port}/{port.protocol} is listed twice")
            continue
        ports.append(port)

    dns = sec.str("dns", DEFAULT_DNS_LOOKUPS) or DEFAULT_DNS_LOOKUPS
    if dns not in DNS_LOOKUPS:
        problems.error(sec.sub("dns"), f"must be one of {', '.join(DNS_LOOKUPS)}, got {dns!r}")
    description = sec.str("description")

    if len(problems.errors) > before or name is None:
        return None
    return EgressPolicy(
        name=name,
        allow=tuple(allow),
        namespace=namespace,
        selector=selector,
        ports=tuple(ports),
        clusterwide=clusterwide,
        dns=dns,  # type: ignore[arg-type]
        allow_all=allow_all,
        description=description,
    )


def _identity(raw: Any) -> tuple[str, str] | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        return None
    if raw.get("clusterwide") is True:
        return ("<cluster>", raw["name"])
    namespace = raw.get("namespace")
    return (namespace, raw["name"]) if isinstance(namespace, str) else None


def parse_egress(
    raw: Any,
    ctx: LabContext,
    problems: Problems,
    *,
    cilium_version: str = CILIUM_VERSION,
    dns_reject_code: str | None = None,
) -> EgressPoliciesArgs | None:
    """None when the section is absent or has errors (reported to `problems`).

    `cilium_version` is the Cilium that enforces the policies (homelab:network's chart);
    `dns_reject_code` its DNS proxy's answer for refused lookups, to warn when `dns: allowed`
    would break resolvers that stop at REFUSED.
    """
    del ctx  # egress rules don't depend on the LAN facts
    if raw is None:
        return None
    if not isinstance(raw, list):
        problems.error(KEY, f"must be a list of policies, got {type(raw).__name__}")
        return None
    before = len(problems.errors)
    policies: list[EgressPolicy] = []
    seen: dict[tuple[str, str], str] = {}
    for i, praw in enumerate(raw):
        key = f"{KEY}[{i}]"
        policy = _policy(praw, key, cilium_version, problems)
        # Checked on the raw values, so an entry with other errors still reports a clash.
        ident = _identity(praw)
        if ident is not None:
            if ident in seen:
                problems.error(f"{key}.name", f"{ident[1]!r} is already defined at {seen[ident]}")
                continue
            seen[ident] = key
        if policy is not None:
            policies.append(policy)
            if policy.dns == "allowed" and dns_reject_code == "refused":
                problems.warn(
                    f"{key}.dns",
                    "Cilium's DNS proxy answers REFUSED to lookups outside the list, and some resolvers "
                    "(musl, as in Alpine images) then give up on the whole search path; set "
                    "homelab:network.dnsProxy.rejectResponseCode: nameError",
                )
    if len(problems.errors) > before:
        return None
    return EgressPoliciesArgs(policies=tuple(policies), cilium_version=cilium_version)
