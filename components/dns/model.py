"""DnsZones' declared inputs: the component's args, and `homelab:dns` in the stack file.

`DnsZonesArgs` is what DnsZones takes (and what the plugin's inputs derive from);
`DnsSection` is the stack file's shorter form of the same zones (records by full name,
forwards as a mapping), turned into args by lab/dns.py with the rules across zones.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

import pulumi
from pydantic import AfterValidator, BeforeValidator, ValidationInfo, WithJsonSchema, model_validator

from components.model import Flag, Int, Model, PluginAs, PluginInput, Shown, between, fail, ipv4_text, problem

APEX = "@"
DEFAULT_TTL = 30
# CoreDNS's forward plugin takes at most 15 upstreams.
MAX_UPSTREAMS = 15


class ZoneKind(StrEnum):
    """How CoreDNS serves a zone."""

    Hosts = "hosts"
    """An inline hosts table: A records, no wildcards."""
    File = "file"
    """An RFC 1035 zone file with SOA and NS: wildcards allowed."""


ZoneType = ZoneKind
ZONE_TYPES: tuple[str, ...] = tuple(k.value for k in ZoneKind)


class ServiceRef(Model):
    """A record that follows a LoadBalancer Service's first ingress IP."""

    namespace: str
    """The Service's namespace."""
    name: str
    """The Service's name."""

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


class DnsRecord(Model):
    """One record's address: give ip or service."""

    ip: Annotated[Any, PluginAs(str), PluginInput] = None
    """An IPv4 address (may come from another resource)."""
    service: str | None = None
    """namespace/name of a LoadBalancer Service whose first ingress IP the record follows."""


# A record's address: a literal IPv4, a Service to follow, or any Input the stack has
# (e.g. the status of a Service it created itself).
RecordValue = ServiceRef | pulumi.Input[str]


def _service(text: Any) -> ServiceRef:
    from components.dns.check import service_ref_problem  # check.py imports this module

    if not isinstance(text, str):
        raise problem("service", f"must be namespace/name, got {text!r}", at="service")
    namespace, sep, name = text.partition("/")
    if not sep:
        raise problem("service", f"{text!r} must be written namespace/name", at="service")
    ref = ServiceRef(namespace=namespace, name=name)
    why = service_ref_problem(ref)
    if why:
        raise problem("service", why, at="service")
    return ref


def record_value(value: Any) -> RecordValue:
    """An IPv4 literal, `{service: namespace/name}`, `{ip: ...}` (the plugin's form) or an Output."""
    if isinstance(value, ServiceRef | pulumi.Output):
        return value
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"ip", "service"})
        if unknown:
            raise problem("record", "unknown setting (allowed: ip, service)", at=str(unknown[0]))
        ip, service = value.get("ip"), value.get("service")
        if (ip is None) == (service is None):
            raise problem("record", "give exactly one of ip or service")
        if service is not None:
            return _service(service)
        return ip if isinstance(ip, pulumi.Output) else ipv4_text(str(ip))
    if isinstance(value, str):
        return ipv4_text(value)
    raise problem("record", f"must be an IPv4 address or {{service: namespace/name}}, got {value!r}")


Record = Annotated[
    Any,
    BeforeValidator(record_value),
    PluginAs(DnsRecord),
    Shown("IPv4 or `{service: namespace/name}`"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "ipv4", "description": "An IPv4 address"},
                {
                    "type": "object",
                    "properties": {
                        "service": {
                            "type": "string",
                            "pattern": "^[a-z0-9-]+/[a-z0-9-]+$",
                            "description": "namespace/name of a LoadBalancer Service whose first ingress IP the "
                            "record follows",
                        }
                    },
                    "required": ["service"],
                    "additionalProperties": False,
                },
            ]
        }
    ),
]


def _zone_name(name: str, info: ValidationInfo) -> str:
    from components.dns.check import zone_name_problem
    from components.dns.names import dns_name_problem

    domain = (info.context or {}).get("cluster_domain")
    why = zone_name_problem(name, domain) if domain else dns_name_problem(name)
    if why:
        raise problem("zone", why)
    return name


ZoneName = Annotated[str, AfterValidator(_zone_name)]


class Zone(Model):
    """A zone the cluster's CoreDNS answers for itself."""

    name: ZoneName
    """Zone name, e.g. k8s.intra (outside the cluster domain)."""
    records: dict[str, Record] = {}
    """Records by name relative to the zone: `echo`, `@` (apex), `*` (file zones only)."""
    type: ZoneKind = ZoneKind.Hosts
    """hosts (default) or file."""
    ttl: Annotated[Int, between(1, 65535)] = DEFAULT_TTL
    """Record TTL in seconds (default 30)."""

    @model_validator(mode="after")
    def _record_names(self) -> Zone:
        from components.dns.check import record_name_problem

        named = ((rel, record_name_problem(rel, self.name, self.type)) for rel in self.records)
        fail([(("records", rel), why) for rel, why in named if why])
        return self

    def fqdn(self, relative: str) -> str:
        return self.name if relative == APEX else f"{relative}.{self.name}"

    @property
    def file_key(self) -> str:
        """The ConfigMap key (and file name) that holds a file zone's data."""
        return f"db.{self.name}"


def _forward_target(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str):
        raise problem("upstream", f"must be an upstream IPv4 address, got {value!r}")
    address, _, port = value.partition(":") if value.count(":") == 1 else (value, "", "")
    try:
        ip = str(ipaddress.IPv4Address(address))
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError(port)
    except ValueError:
        raise problem(
            "upstream", f"{value!r} is not an IPv4 address or IPv4:port (forward targets are IPs, not names)"
        ) from None
    return f"{ip}:{int(port)}" if port else ip


def _one_or_list(value: Any) -> Any:
    """The stack's `zone: ip` shorthand; a bad single value is reported under the zone's key."""
    return value if isinstance(value, list | tuple) else [_forward_target(value)]


def _upstreams(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise problem("upstreams", "needs at least one upstream IP")
    if len(value) > MAX_UPSTREAMS:
        raise problem("upstreams", f"CoreDNS forwards to at most {MAX_UPSTREAMS} upstreams, got {len(value)}")
    if len(set(value)) != len(value):
        raise problem("upstreams", "an upstream is listed twice")
    return value


Upstreams = Annotated[tuple[Annotated[str, BeforeValidator(_forward_target)], ...], AfterValidator(_upstreams)]


class ForwardZone(Model):
    """A zone CoreDNS forwards to other DNS servers (e.g. the router)."""

    name: ZoneName
    """Zone name, e.g. home.lan."""
    upstreams: Upstreams
    """Upstream DNS server IPv4 addresses (at most 15)."""


class DnsZonesArgs(Model):
    """Args of DnsZones: custom zones served by CoreDNS and zones forwarded elsewhere."""

    zones: tuple[Zone, ...] = ()
    """Zones served from the cluster."""
    forwards: tuple[ForwardZone, ...] = ()
    """Zones forwarded elsewhere."""
    cluster_domain: str = "cluster.local"
    """The cluster DNS domain (default cluster.local)."""
    # kubeadm's names for the objects patched.
    namespace: str = "kube-system"
    """Where CoreDNS runs (default kube-system)."""
    configmap: str = "coredns"
    """CoreDNS's ConfigMap (default coredns, kubeadm's)."""
    deployment: str = "coredns"
    """CoreDNS's Deployment (default coredns, kubeadm's)."""
    config_volume: str = "config-volume"
    """The Deployment's config volume (default config-volume)."""
    config_dir: str = "/etc/coredns"
    """Where the config volume is mounted (default /etc/coredns)."""
    skip_await: Flag = False
    """Don't wait for the CoreDNS rollout (default false)."""


class DnsSection(Model):
    """CoreDNS custom zones (`homelab:dns`): the lab's own zones, records by full name, forwarded zones."""

    zones: tuple[Zone, ...] = ()
    """Zones served from the cluster: [{name, type (hosts|file), ttl, records: {name: ip | {service: ns/name}}}]."""
    records: dict[str, Record] = {}
    """Records by full name (`printer.lab.intra`), each placed in the zone it falls in."""
    forward: dict[
        ZoneName,
        Annotated[
            Upstreams,
            BeforeValidator(_one_or_list, json_schema_input_type=str | list[str]),
            Shown("IPv4 or list of IPv4"),
        ],
    ] = {}
    """Zones forwarded elsewhere: {zone: upstream IPv4, or a list of up to 15}."""
