"""LoadBalancer's declared inputs: `homelab:loadBalancer` in the stack file, the component's args.

One model (components.model.Model) for the stack file, Python callers, the plugin and
the generated editor schema and README table. Rules against the rest of the lab (the
LAN, reserved addresses, Cilium's BGP) are in lab/loadbalancer.py.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo, model_validator

from components.model import Flag, Int, Interface, IPv4Text, Model, between, non_empty, problem
from components.validation import DNS1123_LABEL, MAX_ASN, IPRange
from components.versions import METALLB_VERSION

METALLB_REPO = "https://metallb.github.io/metallb"


class LoadBalancerMode(StrEnum):
    """How MetalLB announces LoadBalancer IPs."""

    L2 = "l2"
    """ARP from one node per IP."""
    Bgp = "bgp"
    """ARP on the LAN plus BGP routes at the router (needs bgp)."""


Mode = LoadBalancerMode  # a str: `args.mode == "l2"` holds


def metallb_address(rng: IPRange, text: str) -> str:
    """The form MetalLB takes: a CIDR as written, otherwise `first-last` (a single IP as /32)."""
    if "/" in text:
        return text.strip()
    if rng.first == rng.last:
        return f"{rng.first}/32"
    return f"{rng.first}-{rng.last}"


def _pool_address(text: str) -> str:
    try:
        return metallb_address(IPRange.parse(text), text)
    except ValueError as exc:
        raise problem("range", f"{text!r} is not an address range `a-b`, an address or a CIDR ({exc})") from None


def _pool_name(name: str) -> str:
    if not DNS1123_LABEL.match(name):
        raise problem("name", f"{name!r} is not a valid pool name (lowercase letters, digits, '-')")
    return name


Asn = Annotated[Int, between(1, MAX_ASN)]


class MetalLbChart(Model):
    """Where the MetalLB chart comes from: a repo + pinned version, or a local chart (dir or .tgz)."""

    repo: str = METALLB_REPO
    """Chart repository URL (default: MetalLB's)."""
    version: str = METALLB_VERSION
    """Chart version (default: the version this project pins)."""
    path: str | None = None
    """A local chart directory or .tgz; takes no repo or version (offline runs)."""

    @model_validator(mode="before")
    @classmethod
    def _path_alone(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("path") is not None:
            if any(data.get(k) is not None for k in ("repo", "version")):
                raise problem("chart", "a local chart path takes no repo or version; set one or the other", at="path")
        return data


class AddressPool(Model):
    """A MetalLB IPAddressPool: LAN ranges handed to LoadBalancer Services."""

    name: Annotated[str, AfterValidator(_pool_name)]
    """Pool name (DNS-1123 label)."""
    addresses: Annotated[
        tuple[Annotated[str, AfterValidator(_pool_address)], ...],
        non_empty("needs at least one address range (`a-b` or a CIDR)"),
    ]
    """Ranges `a-b`, single addresses or CIDRs on the LAN, outside the DHCP range."""
    auto_assign: Flag = True
    """Hand these out to Services that don't ask for a pool (default true)."""


class BgpSession(Model):
    """MetalLB's own BGP session to the router (mode: bgp, only without Cilium's BGP)."""

    my_asn: Asn
    """The cluster's ASN."""
    peer_asn: Asn
    """The router's ASN."""
    peer_address: IPv4Text
    """The router's IPv4 address (in a stack: homelab:lan.gateway unless set)."""

    @model_validator(mode="before")
    @classmethod
    def _router_by_default(cls, data: Any, info: ValidationInfo) -> Any:
        lab = (info.context or {}).get("lab")
        gateway = getattr(lab, "gateway", None)
        if isinstance(data, dict) and gateway is not None and not {"peerAddress", "peer_address"} & set(data):
            return {**data, "peerAddress": str(gateway)}
        return data


class LoadBalancerArgs(Model):
    """MetalLB: address pools on the home LAN and how they are announced."""

    pools: tuple[AddressPool, ...]
    """Address pools (at least one)."""
    mode: LoadBalancerMode = LoadBalancerMode.L2
    """l2: ARP from one node per IP. bgp: the same ARP (LAN clients find on-link IPs by ARP) plus BGP
    routes at the router for clients beyond the LAN."""
    bgp: BgpSession | None = None
    """The BGP session (mode bgp)."""
    interfaces: tuple[Interface, ...] = ()
    """Announce only on these NICs (default: all but the pods' veths)."""
    chart: MetalLbChart = MetalLbChart()
    """Where the MetalLB chart comes from."""
    namespace: str = "metallb-system"
    """Namespace (default metallb-system)."""
    release_name: str = "metallb"
    """Helm release name (default metallb)."""
    skip_await: Flag = False
    """Don't wait for MetalLB's pods (default false)."""

    @model_validator(mode="after")
    def _bgp_with_its_mode(self) -> LoadBalancerArgs:
        if self.mode == "bgp" and self.bgp is None:
            raise problem("bgp", "is required when mode is bgp", at="bgp")
        return self
