"""Typed arguments of LoadBalancer (MetalLB): plain values, no pulumi.Config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from components.versions import METALLB_VERSION

METALLB_REPO = "https://metallb.github.io/metallb"

Mode = Literal["l2", "bgp"]


@dataclass(frozen=True)
class MetalLbChart:
    """Where the MetalLB chart comes from: a repo + pinned version, or a local chart (dir or .tgz)."""

    repo: str = METALLB_REPO
    version: str = METALLB_VERSION
    path: str | None = None  # wins over repo/version


@dataclass(frozen=True)
class AddressPool:
    """A MetalLB IPAddressPool: LAN ranges handed to LoadBalancer Services."""

    name: str
    addresses: tuple[str, ...]  # MetalLB forms: `a-b` or a CIDR
    auto_assign: bool = True


@dataclass(frozen=True)
class BgpSession:
    """MetalLB's own BGP session to the router (mode: bgp, only without Cilium's BGP)."""

    my_asn: int
    peer_asn: int
    peer_address: str


@dataclass(frozen=True)
class LoadBalancerArgs:
    """Args of LoadBalancer: MetalLB chart, pools and how they are announced."""

    pools: tuple[AddressPool, ...]
    # l2: ARP from one node per IP. bgp: the same ARP (LAN clients find on-link IPs by ARP,
    # never through the router) plus BGP routes at the router for clients beyond the LAN.
    mode: Mode = "l2"
    bgp: BgpSession | None = None
    interfaces: tuple[str, ...] = ()  # restrict ARP announcements to these NICs; empty: all but excluded
    chart: MetalLbChart = field(default_factory=MetalLbChart)
    namespace: str = "metallb-system"
    release_name: str = "metallb"
    skip_await: bool = False
