"""`homelab:dns` → DnsZonesArgs: the model's own checks, then the rules across zones.

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

import ipaddress
from collections.abc import Mapping
from typing import Any

from components.dns.check import overlap_problems, record_name_problem
from components.dns.model import APEX, DnsSection, DnsZonesArgs, ForwardZone, RecordValue, Zone, record_value
from components.dns.names import dns_name_problem, within
from components.model import lenient, parse
from components.validation import Problems
from lab.context import LabContext

KEY = "homelab:dns"


def _mapping(raw: Any, name: str) -> Mapping[str, Any]:
    value = raw.get(name) if isinstance(raw, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _value(value: Any) -> RecordValue | None:
    try:
        return record_value(value)
    except ValueError:
        return None  # the model reported it


def _warn_dhcp(value: RecordValue | None, key: str, ctx: LabContext, problems: Problems) -> None:
    if isinstance(value, str) and ctx.dhcp_range is not None:
        ip = ipaddress.IPv4Address(value)  # validated by the model
        if ip in ctx.dhcp_range:
            problems.warn(
                key, f"{ip} is inside the router's DHCP range {ctx.dhcp_range}: it may be handed to another host"
            )


def _zone_list(names: list[str]) -> str:
    return ", ".join(names) if names else "none defined"


def parse_dns(raw: Any, ctx: LabContext, problems: Problems) -> DnsZonesArgs | None:
    """None when the section is absent or has errors (reported to `problems`)."""
    if raw is None:
        return None
    before = len(problems.errors)
    context = {"lab": ctx, "cluster_domain": ctx.cluster_domain}
    section = parse(DnsSection, raw, KEY, problems, context=context)

    # Across zones: run on every entry that is valid by itself, so all problems show at once.
    raw_zones = raw.get("zones") if isinstance(raw, Mapping) else None
    zones = [lenient(Zone, z, context=context) for z in (raw_zones if isinstance(raw_zones, list) else [])]
    forwards = [
        (name, lenient(ForwardZone, {"name": name, "upstreams": v if isinstance(v, list) else [v]}, context=context))
        for name, v in _mapping(raw, "forward").items()
    ]
    named = [(z.name, f"{KEY}.zones[{i}].name") for i, z in enumerate(zones) if z is not None]
    named += [(f.name, f"{KEY}.forward[{name}]") for name, f in forwards if f is not None]
    for idx, msg in overlap_problems([n for n, _ in named]):
        problems.error(named[idx][1], msg)

    good = [(i, z) for i, z in enumerate(zones) if z is not None]
    records: dict[str, dict[str, RecordValue]] = {z.name: dict(z.records) for _, z in good}
    seen: dict[str, str] = {}  # fqdn -> config key that defined it
    for i, zone in good:
        for rel, value in zone.records.items():
            rkey = f"{KEY}.zones[{i}].records[{rel}]"
            seen.setdefault(zone.fqdn(rel), rkey)
            _warn_dhcp(value, rkey, ctx, problems)

    zone_names = [z.name for _, z in good]
    forward_names = [f.name for _, f in forwards if f is not None]
    types = {z.name: z.type for _, z in good}
    for fqdn, value in _mapping(raw, "records").items():
        rkey = f"{KEY}.records[{fqdn}]"
        why = dns_name_problem(str(fqdn), wildcard=True)
        if why:
            problems.error(rkey, why)
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
        why = record_name_problem(rel, home, types[home])
        if why:
            problems.error(rkey, why)
            continue
        parsed = _value(value)
        if parsed is None:
            continue
        if fqdn in seen:
            problems.error(rkey, f"{fqdn} is already defined at {seen[fqdn]}")
            continue
        seen[fqdn] = rkey
        _warn_dhcp(parsed, rkey, ctx, problems)
        records[home][rel] = parsed

    if section is None or len(problems.errors) > before:
        return None
    return DnsZonesArgs(
        zones=tuple(z.model_copy(update={"records": records[z.name]}) for _, z in good),
        forwards=tuple(ForwardZone(name=name, upstreams=ups) for name, ups in section.forward.items()),
        cluster_domain=ctx.cluster_domain,
    )
