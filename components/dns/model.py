"""DnsZones arguments: custom zones (hosts or file), forward zones, and where CoreDNS lives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi

ZoneType = Literal["hosts", "file"]
ZONE_TYPES: tuple[str, ...] = ("hosts", "file")
APEX = "@"
DEFAULT_TTL = 30
# CoreDNS's forward plugin takes at most 15 upstreams.
MAX_UPSTREAMS = 15


@dataclass(frozen=True)
class ServiceRef:
    """A record that follows a LoadBalancer Service's first ingress IP."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


# A record's address: a literal IPv4, a Service to follow, or any Input the stack has
# (e.g. the status of a Service it created itself).
RecordValue = ServiceRef | pulumi.Input[str]


@dataclass(frozen=True)
class Zone:
    """A zone CoreDNS answers for itself.

    `records` are relative to the zone: `echo` is echo.<zone>, `@` the zone's apex,
    `*` / `*.sub` wildcards (file zones only; the hosts plugin has no wildcards).
    """

    name: str
    records: Mapping[str, RecordValue] = field(default_factory=dict)
    type: ZoneType = "hosts"
    ttl: int = DEFAULT_TTL

    def fqdn(self, relative: str) -> str:
        return self.name if relative == APEX else f"{relative}.{self.name}"

    @property
    def file_key(self) -> str:
        """The ConfigMap key (and file name) that holds a file zone's data."""
        return f"db.{self.name}"


@dataclass(frozen=True)
class ForwardZone:
    """A zone whose queries CoreDNS sends to other DNS servers (e.g. the router)."""

    name: str
    upstreams: tuple[str, ...]


@dataclass(frozen=True)
class DnsZonesArgs:
    """Args of DnsZones: custom zones served by CoreDNS and zones forwarded elsewhere."""

    zones: tuple[Zone, ...] = ()
    forwards: tuple[ForwardZone, ...] = ()
    cluster_domain: str = "cluster.local"
    # kubeadm's names for the objects patched.
    namespace: str = "kube-system"
    configmap: str = "coredns"
    deployment: str = "coredns"
    config_volume: str = "config-volume"
    config_dir: str = "/etc/coredns"
    # Don't wait for the CoreDNS rollout (tests, or clusters whose pods can't start yet).
    skip_await: bool = False
