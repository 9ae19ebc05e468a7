"""The rules a zone setup must follow, as pure checks (each returns a message or None).

lab/dns.py reports them under config keys; DnsZones runs `args_problems` again so the
component is safe to use without our config files.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from components.dns.model import APEX, MAX_UPSTREAMS, ZONE_TYPES, DnsZonesArgs, ServiceRef
from components.dns.names import dns_name_problem, label_problem, within
from components.validation import DNS1123_LABEL

# Zones the `.:53` block's kubernetes plugin answers reverse lookups in.
REVERSE_ROOTS = ("in-addr.arpa", "ip6.arpa")


def zone_name_problem(name: str, cluster_domain: str) -> str | None:
    problem = dns_name_problem(name)
    if problem:
        return problem
    if within(name, cluster_domain):
        return (
            f"{name!r} is inside the cluster domain {cluster_domain!r}, which the kubernetes plugin answers; "
            "pick a zone of its own (e.g. k8s.intra)"
        )
    if within(cluster_domain, name):
        return (
            f"{name!r} contains the cluster domain {cluster_domain!r}: its server block would take the cluster's "
            "own names away from the kubernetes plugin"
        )
    for root in REVERSE_ROOTS:
        if within(root, name):
            return f"{name!r} would take all reverse lookups ({root}) away from the kubernetes plugin"
    return None


def record_name_problem(relative: str, zone: str, zone_type: str) -> str | None:
    """A record name relative to its zone: labels, `@` (the apex) or a leftmost `*` (file zones)."""
    if not isinstance(relative, str) or not relative:
        return "a record name is empty"
    if relative == APEX:
        return None
    if relative != relative.lower():
        return f"{relative!r} must be written in lowercase"
    if relative.endswith("." + zone) or relative == zone:
        return (
            f"{relative!r} already ends with the zone name {zone!r}: inside a zone write names relative to it "
            f"({relative.removesuffix('.' + zone) or APEX!r}), or list full names under homelab:dns.records"
        )
    labels = relative.split(".")
    for i, label in enumerate(labels):
        if label == "*" and i == 0:
            if zone_type != "file":
                return f"{relative!r}: the hosts plugin has no wildcard records; use `type: file` for this zone"
            continue
        problem = label_problem(label)
        if problem:
            return f"{relative!r}: {problem}"
    if len(f"{relative}.{zone}") > 253:
        return f"{relative}.{zone} is longer than 253 characters"
    return None


def ipv4_problem(value: object) -> str | None:
    try:
        ipaddress.IPv4Address(str(value))
    except ValueError:
        return f"{value!r} is not an IPv4 address"
    return None


def service_ref_problem(ref: ServiceRef) -> str | None:
    if not DNS1123_LABEL.match(ref.namespace or ""):
        return f"namespace {ref.namespace!r} is not a valid namespace name (DNS-1123 label)"
    if not DNS1123_LABEL.match(ref.name or "") or not ref.name[:1].isalpha():
        return f"service name {ref.name!r} is not a valid Service name (DNS-1035 label)"
    return None


def overlap_problems(names: Sequence[str]) -> list[tuple[int, str]]:
    """(index, message) for every zone that repeats or nests in an earlier one.

    Nested zones are refused: CoreDNS sends a query to the most specific server block,
    so a record written in the outer zone below the inner one would silently vanish.
    """
    out: list[tuple[int, str]] = []
    for i, name in enumerate(names):
        for earlier in names[:i]:
            if name == earlier:
                out.append((i, f"zone {name!r} is listed twice"))
            elif within(name, earlier) or within(earlier, name):
                inner, outer = (name, earlier) if within(name, earlier) else (earlier, name)
                out.append((i, f"zone {inner!r} lies inside zone {outer!r}; merge them into one zone"))
            else:
                continue
            break  # one message per zone is enough
    return out


def upstream_problems(upstreams: Iterable[str]) -> list[str]:
    ups = list(upstreams)
    out: list[str] = []
    if not ups:
        out.append("needs at least one upstream IP")
    if len(ups) > MAX_UPSTREAMS:
        out.append(f"CoreDNS forwards to at most {MAX_UPSTREAMS} upstreams, got {len(ups)}")
    for up in ups:
        problem = ipv4_problem(up)
        if problem:
            out.append(f"upstream {problem}")
    if len(set(ups)) != len(ups):
        out.append("an upstream is listed twice")
    return out


def args_problems(args: DnsZonesArgs) -> list[str]:
    """Every static problem in `args` (record values that are Outputs are checked when known)."""
    out: list[str] = []
    cd_problem = dns_name_problem(args.cluster_domain)
    if cd_problem:
        out.append(f"cluster domain: {cd_problem}")
    names = [z.name for z in args.zones] + [f.name for f in args.forwards]
    for name in names:
        problem = zone_name_problem(name, args.cluster_domain)
        if problem:
            out.append(f"zone {name!r}: {problem}")
    out.extend(msg for _, msg in overlap_problems(names))
    for zone in args.zones:
        if zone.type not in ZONE_TYPES:
            out.append(f"zone {zone.name!r}: type must be one of {', '.join(ZONE_TYPES)}, got {zone.type!r}")
        if not 1 <= zone.ttl <= 65535:
            out.append(f"zone {zone.name!r}: ttl must be between 1 and 65535 seconds, got {zone.ttl}")
        for rel, value in zone.records.items():
            problem = record_name_problem(rel, zone.name, zone.type)
            if problem:
                out.append(f"zone {zone.name!r}: {problem}")
            if isinstance(value, ServiceRef):
                problem = service_ref_problem(value)
            elif isinstance(value, str):
                problem = ipv4_problem(value)
            else:
                problem = None
            if problem:
                out.append(f"zone {zone.name!r}, record {rel!r}: {problem}")
    for fwd in args.forwards:
        out.extend(f"forward zone {fwd.name!r}: {p}" for p in upstream_problems(fwd.upstreams))
    return out
