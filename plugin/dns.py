"""DnsZones for other Pulumi languages: plugin-friendly inputs → DnsZonesArgs → the real component.

A record is an IP or a Service to follow; the host takes no Union types, so a record
is an object with one of `ip` / `service`.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

import pulumi

from components.dns.component import DnsZones as RealDnsZones
from components.dns.model import DEFAULT_TTL, DnsZonesArgs, ForwardZone, RecordValue, ServiceRef, Zone
from components.validation import Problems
from plugin.inputs import check_plain, child_options, integer, raise_if_any, strings, text

TOKEN = "homelab:index:DnsZones"


class ZoneKind(StrEnum):
    """How CoreDNS serves a zone."""

    Hosts = "hosts"
    """An inline hosts table: A records, no wildcards."""
    File = "file"
    """An RFC 1035 zone file with SOA and NS: wildcards allowed."""


class DnsRecord(TypedDict):
    """One record's address: give ip or service."""

    ip: NotRequired[pulumi.Input[str]]
    """An IPv4 address (may come from another resource)."""
    service: NotRequired[str]
    """namespace/name of a LoadBalancer Service whose first ingress IP the record follows."""


class DnsZoneSettings(TypedDict):
    """A zone the cluster's CoreDNS answers for itself."""

    name: str
    """Zone name, e.g. k8s.intra (outside the cluster domain)."""
    records: NotRequired[dict[str, DnsRecord]]
    """Records by name relative to the zone: `echo`, `@` (apex), `*` (file zones only)."""
    type: NotRequired[ZoneKind]
    """hosts (default) or file."""
    ttl: NotRequired[int]
    """Record TTL in seconds (default 30)."""


class ForwardZoneSettings(TypedDict):
    """A zone CoreDNS forwards to other DNS servers (e.g. the router)."""

    name: str
    """Zone name, e.g. home.lan."""
    upstreams: list[str]
    """Upstream DNS server IPv4 addresses (at most 15)."""


class DnsZonesArgsInput(TypedDict):
    """Inputs of DnsZones."""

    zones: NotRequired[list[DnsZoneSettings]]
    """Zones served from the cluster."""
    forwards: NotRequired[list[ForwardZoneSettings]]
    """Zones forwarded elsewhere."""
    cluster_domain: NotRequired[str]
    """The cluster DNS domain (default cluster.local)."""
    namespace: NotRequired[str]
    """Where CoreDNS runs (default kube-system)."""
    configmap: NotRequired[str]
    """CoreDNS's ConfigMap (default coredns, kubeadm's)."""
    deployment: NotRequired[str]
    """CoreDNS's Deployment (default coredns, kubeadm's)."""
    config_volume: NotRequired[str]
    """The Deployment's config volume (default config-volume)."""
    config_dir: NotRequired[str]
    """Where the config volume is mounted (default /etc/coredns)."""
    skip_await: NotRequired[bool]
    """Don't wait for the CoreDNS rollout (default false)."""


def _record(value: Mapping[str, Any], key: str, problems: Problems) -> RecordValue:
    ip, service = value.get("ip"), value.get("service")
    if (ip is None) == (service is None):
        problems.error(key, "give exactly one of ip or service")
        return ""
    if service is not None:
        namespace, _, name = text(service).partition("/")
        if not namespace or not name:
            problems.error(f"{key}.service", f"{service!r} must be namespace/name")
        return ServiceRef(namespace=namespace, name=name)
    return ip if isinstance(ip, pulumi.Output) else text(ip)


def dns_zones_args(args: Mapping[str, Any]) -> DnsZonesArgs:
    """The real component's DnsZonesArgs (it checks the zone rules itself when constructed)."""
    problems = Problems()
    check_plain(args, problems, inputs_ok=frozenset({"ip"}))
    raise_if_any("DnsZones", problems)
    zones: list[Zone] = []
    for i, raw in enumerate(args.get("zones") or []):
        records = {
            str(rel): _record(value or {}, f"zones[{i}].records.{rel}", problems)
            for rel, value in (raw.get("records") or {}).items()
        }
        zone_type = text(raw.get("type", ZoneKind.Hosts))
        zones.append(
            Zone(
                name=text(raw.get("name", "")),
                records=records,
                type="file" if zone_type == "file" else "hosts",
                ttl=integer(raw.get("ttl", DEFAULT_TTL), f"zones[{i}].ttl", problems),
            )
        )
        if zone_type not in ("hosts", "file"):
            problems.error(f"zones[{i}].type", f"{zone_type!r} must be hosts or file")
    forwards = tuple(
        ForwardZone(name=text(raw.get("name", "")), upstreams=strings(raw.get("upstreams")))
        for raw in args.get("forwards") or []
    )
    d = DnsZonesArgs()
    raise_if_any("DnsZones", problems)
    return DnsZonesArgs(
        zones=tuple(zones),
        forwards=forwards,
        cluster_domain=text(args.get("cluster_domain", d.cluster_domain)),
        namespace=text(args.get("namespace", d.namespace)),
        configmap=text(args.get("configmap", d.configmap)),
        deployment=text(args.get("deployment", d.deployment)),
        config_volume=text(args.get("config_volume", d.config_volume)),
        config_dir=text(args.get("config_dir", d.config_dir)),
        skip_await=bool(args.get("skip_await", d.skip_await)),
    )


class DnsZones(pulumi.ComponentResource):
    """The lab's own DNS zones (and forwarded zones) in kubeadm's CoreDNS.

    Patches the coredns ConfigMap (Corefile + zone files) and rolls the Deployment on
    every change; deleting it gives the patched fields back without deleting CoreDNS.
    Pass the cluster's Kubernetes provider in the resource options.
    """

    corefile: pulumi.Output[str]
    """The Corefile CoreDNS serves."""
    config_hash: pulumi.Output[str]
    """sha256 of the ConfigMap data (rolls CoreDNS when it changes)."""
    records: pulumi.Output[dict[str, dict[str, str]]]
    """Zone → fully qualified name → IPv4."""

    def __init__(self, name: str, args: DnsZonesArgsInput, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TOKEN, name, None, opts)
        inner = RealDnsZones(name, dns_zones_args(args), opts=child_options(self, opts))
        self.corefile = inner.corefile
        self.config_hash = inner.config_hash
        self.records = inner.records
        self.register_outputs({"corefile": self.corefile, "configHash": self.config_hash, "records": self.records})
