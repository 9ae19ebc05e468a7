"""`homelab:dns` → DnsZonesArgs: the lab's own zones, their records, and forward zones.

    homelab:dns:
      zones:
        - name: k8s.intra                     # type: hosts (default) or file
          records: {echo: 172.17.0.2, grafana: {service: monitoring/grafana}}
        - {name: lab.intra, type: file, ttl: 60, records: {nas: 192.168.2.5, "*.apps": 192.168.2.241}}
      records: {printer.lab.intra: 192.168.2.6}   # full names, each placed in its zone
      forward: {home.lan: 192.168.2.1}           # or a list of upstream IPs

Record names inside a zone are relative (`echo`, `@` for the apex, `*`/`*.sub` in file
zones); names under `records` are full and must fall inside one of the zones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.dns.check import (
    ipv4_problem,
    overlap_problems,
    record_name_problem,
    service_ref_problem,
    zone_name_problem,
)
from components.dns.model import (
    APEX,
    DEFAULT_TTL,
    MAX_UPSTREAMS,
    ZONE_TYPES,
    DnsZonesArgs,
    ForwardZone,
    RecordValue,
    ServiceRef,
    Zone,
)
from components.dns.names import dns_name_problem, within
from components.validation import Problems, parse_ip
from lab.context import LabContext, Section

KEY = "homelab:dns"


def _record_value(raw: Any, key: str, ctx: LabContext, problems: Problems) -> RecordValue | None:
    """An IPv4 literal, or `{service: namespace/name}` (follows the Service's LoadBalancer IP)."""
    if isinstance(raw, Mapping):
        sec = Section(raw, key, problems)
        sec.unknown({"service"})
        ref = sec.str("service", required=True)
        if ref is None:
            return None
        ns, sep, name = ref.partition("/")
        if not sep:
            problems.error(sec.sub("service"), f"{ref!r} must be written namespace/name")
            return None
        svc = ServiceRef(ns, name)
        problem = service_ref_problem(svc)
        if problem:
            problems.error(sec.sub("service"), problem)
            return None
        return svc
    if isinstance(raw, bool) or not isinstance(raw, str):
        problems.error(key, f"must be an IPv4 address or {{service: namespace/name}}, got {raw!r}")
        return None
    ip = parse_ip(raw, key, problems)
    if ip is None:
        return None
    if ctx.dhcp_range is not None and ip in ctx.dhcp_range:
        problems.warn(key, f"{ip} is inside the router's DHCP range {ctx.dhcp_range}: it may be handed to another host")
    return str(ip)


def _zone(raw: Any, key: str, ctx: LabContext, problems: Problems) -> tuple[Zone, dict[str, str]] | None:
    """A zone, and the config key of each record (for errors found later)."""
    if not isinstance(raw, Mapping):
        problems.error(key, f"must be a mapping (name, type, ttl, records), got {type(raw).__name__}")
        return None
    sec = Section(raw, key, problems)
    sec.unknown({"name", "type", "ttl", "records"})
    name = sec.str("name", required=True)
    ztype = sec.str("type", "hosts") or "hosts"
    if ztype not in ZONE_TYPES:
        problems.error(sec.sub("type"), f"must be one of {', '.join(ZONE_TYPES)}, got {ztype!r}")
        ztype = "hosts"
    ttl = sec.int("ttl", DEFAULT_TTL, lo=1, hi=65535) or DEFAULT_TTL
    if name is not None:
        problem = zone_name_problem(name, ctx.cluster_domain)
        if problem:
            problems.error(sec.sub("name"), problem)
            name = None
    records: dict[str, RecordValue] = {}
    keys: dict[str, str] = {}
    for raw_rel, value in sec.mapping("records").items():
        rel = str(raw_rel)
        rkey = f"{sec.sub('records')}[{rel}]"
        if name is not None:
            problem = record_name_problem(rel, name, ztype)
            if problem:
                problems.error(rkey, problem)
                continue
        parsed = _record_value(value, rkey, ctx, problems)
        if parsed is not None:
            records[rel] = parsed
            keys[rel] = rkey
    if name is None:
        return None
    return Zone(name=name, records=records, type=ztype, ttl=ttl), keys  # type: ignore[arg-type]


def _forward(name: str, raw: Any, key: str, ctx: LabContext, problems: Problems) -> ForwardZone | None:
    problem = zone_name_problem(name, ctx.cluster_domain)
    if problem:
        problems.error(key, problem)
    values = raw if isinstance(raw, list) else [raw]
    upstreams: list[str] = []
    for i, v in enumerate(values):
        vkey = f"{key}[{i}]" if isinstance(raw, list) else key
        if isinstance(v, bool) or not isinstance(v, str):
            problems.error(vkey, f"must be an upstream IPv4 address, got {v!r}")
            continue
        if ipv4_problem(v):
            problems.error(vkey, f"{v!r} is not an IPv4 address (forward targets are IPs, not names)")
            continue
        upstreams.append(v)
    if not values:
        problems.error(key, "needs at least one upstream IP")
    if len(upstreams) > MAX_UPSTREAMS:
        problems.error(key, f"CoreDNS forwards to at most {MAX_UPSTREAMS} upstreams, got {len(upstreams)}")
    if len(set(upstreams)) != len(upstreams):
        problems.error(key, "an upstream is listed twice")
    if problem or not upstreams:
        return None
    return ForwardZone(name=name, upstreams=tuple(upstreams))


def _zone_list(names: list[str]) -> str:
    return ", ".join(names) if names else "none defined"


def parse_dns(raw: Any, ctx: LabContext, problems: Problems) -> DnsZonesArgs | None:
    """None when the section is absent or has errors (reported to `problems`)."""
    if raw is None:
        return None
    before = len(problems.errors)
    sec = Section(raw, KEY, problems)
    sec.unknown({"zones", "records", "forward"})

    zones: list[tuple[Zone, dict[str, str]] | None] = []
    for i, zraw in enumerate(sec.list("zones")):
        zones.append(_zone(zraw, f"{sec.sub('zones')}[{i}]", ctx, problems))

    forwards: list[ForwardZone | None] = []
    forward_keys: list[str] = []
    for fname, fraw in sec.mapping("forward").items():
        fkey = f"{sec.sub('forward')}[{fname}]"
        forwards.append(_forward(str(fname), fraw, fkey, ctx, problems))
        forward_keys.append(fkey)

    # Duplicate and nested zones, across custom and forward zones.
    named: list[tuple[str, str]] = [
        (z[0].name, f"{sec.sub('zones')}[{i}].name") for i, z in enumerate(zones) if z is not None
    ] + [(f.name, k) for f, k in zip(forwards, forward_keys, strict=True) if f is not None]
    for idx, msg in overlap_problems([n for n, _ in named]):
        problems.error(named[idx][1], msg)

    good = [z for z in zones if z is not None]
    records: dict[str, dict[str, RecordValue]] = {z.name: dict(z.records) for z, _ in good}
    seen: dict[str, str] = {}  # fqdn -> config key that defined it
    for zone, keys in good:
        for rel in zone.records:
            seen.setdefault(zone.fqdn(rel), keys[rel])

    zone_names = [z.name for z, _ in good]
    forward_names = [f.name for f in forwards if f is not None]
    types = {z.name: z.type for z, _ in good}
    for raw_fqdn, value in sec.mapping("records").items():
        fqdn = str(raw_fqdn)
        rkey = f"{sec.sub('records')}[{fqdn}]"
        problem = dns_name_problem(fqdn, wildcard=True)
        if problem:
            problems.error(rkey, problem)
            continue
        home = next((z for z in zone_names if within(fqdn, z)), None)
        if home is None:
            fwd = next((f for f in forward_names if within(fqdn, f)), None)
            if fwd is not None:
                problems.error(
                    rkey,
                    f"{fqdn} is inside forward zone {fwd}, whose answers come from its upstreams; "
                    "records can only live in zones listed under homelab:dns.zones",
                )
            else:
                problems.error(
                    rkey,
                    f"{fqdn} is outside every zone ({_zone_list(zone_names)}); "
                    "add its zone under homelab:dns.zones or fix the name",
                )
            continue
        rel = APEX if fqdn == home else fqdn.removesuffix("." + home)
        problem = record_name_problem(rel, home, types[home])
        if problem:
            problems.error(rkey, problem)
            continue
        parsed = _record_value(value, rkey, ctx, problems)
        if parsed is None:
            continue
        if fqdn in seen:
            problems.error(rkey, f"{fqdn} is already defined at {seen[fqdn]}")
            continue
        seen[fqdn] = rkey
        records[home][rel] = parsed

    if len(problems.errors) > before:
        return None
    return DnsZonesArgs(
        zones=tuple(Zone(name=z.name, records=records[z.name], type=z.type, ttl=z.ttl) for z, _ in good),
        forwards=tuple(f for f in forwards if f is not None),
        cluster_domain=ctx.cluster_domain,
    )
