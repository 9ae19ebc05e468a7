"""What every config section may check itself against: the LAN and the cluster's addresses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.validation import IPRange, IPv4, Net, Problems


@dataclass(frozen=True)
class LabContext:
    """Facts parsed from `homelab:lan`, `homelab:cluster` and `homelab:nodes`.

    A field is None when its own section was invalid; rules that need it then skip
    themselves, since the section's own error is already reported.
    """

    lan: Net | None
    gateway: IPv4 | None
    dhcp_range: IPRange | None
    node_addresses: Mapping[str, IPv4] = field(default_factory=dict)
    endpoint: IPv4 | None = None  # the VIP, or the first control plane
    vip: IPv4 | None = None
    pod_cidr: Net | None = None
    service_cidr: Net | None = None
    api_port: int = 6443
    cluster_domain: str = "cluster.local"

    def reserved(self) -> list[tuple[str, IPRange]]:
        """Addresses a LAN pool must never hand out, each with what it is."""
        out: list[tuple[str, IPRange]] = []
        if self.gateway is not None:
            out.append(("the router (homelab:lan.gateway)", IPRange(self.gateway, self.gateway)))
        if self.dhcp_range is not None:
            out.append(("the router's DHCP range (homelab:lan.dhcpRange)", self.dhcp_range))
        for name, ip in self.node_addresses.items():
            out.append((f"node {name}'s address", IPRange(ip, ip)))
        if self.vip is not None:
            out.append(("the control-plane VIP (homelab:cluster.endpoint)", IPRange(self.vip, self.vip)))
        if self.pod_cidr is not None:
            out.append(("the pod CIDR", IPRange(self.pod_cidr.network_address, self.pod_cidr.broadcast_address)))
        if self.service_cidr is not None:
            out.append(
                ("the service CIDR", IPRange(self.service_cidr.network_address, self.service_cidr.broadcast_address))
            )
        return out


class Section:
    """A typed view over one raw config mapping that reports problems under its key."""

    def __init__(self, raw: Any, key: str, problems: Problems) -> None:
        self.key = key
        self.problems = problems
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            problems.error(key, f"must be a mapping, got {type(raw).__name__}")
            raw = {}
        self.raw: Mapping[str, Any] = raw

    def sub(self, name: str) -> str:
        return f"{self.key}.{name}"

    def unknown(self, allowed: set[str]) -> None:
        for k in self.raw:
            if k not in allowed:
                self.problems.error(self.sub(str(k)), f"unknown setting (allowed: {', '.join(sorted(allowed))})")

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.raw.get(name, default)
        if value is None:
            if required:
                self.problems.error(self.sub(name), "is required")
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.problems.error(self.sub(name), f"must be a string, got {type(value).__name__}")
            return None
        return str(value)

    def bool(self, name: str, default: bool) -> bool:
        value = self.raw.get(name, default)
        if not isinstance(value, bool):
            self.problems.error(self.sub(name), f"must be true or false, got {value!r}")
            return default
        return value

    def int(self, name: str, default: int | None = None, *, lo: int | None = None, hi: int | None = None) -> int | None:
        value = self.raw.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problems.error(self.sub(name), f"must be an integer, got {value!r}")
            return default
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.problems.error(self.sub(name), f"must be between {lo} and {hi}, got {value}")
            return default
        return value

    def list(self, name: str) -> list[Any]:
        value = self.raw.get(name, [])
        if value is None:
            return []
        if not isinstance(value, list):
            self.problems.error(self.sub(name), f"must be a list, got {type(value).__name__}")
            return []
        return value

    def mapping(self, name: str) -> Mapping[str, Any]:
        value = self.raw.get(name, {})
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problems.error(self.sub(name), f"must be a mapping, got {type(value).__name__}")
            return {}
        return value
