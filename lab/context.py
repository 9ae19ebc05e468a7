"""What every config section may check itself against: the LAN and the cluster's addresses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from components.validation import IPRange, IPv4, Net


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
