"""FlatNetwork: Cilium native routing on the home LAN, optional BGP and LAN attachment."""

from components.network.component import FlatNetwork
from components.network.model import (
    BgpPeering,
    CiliumChart,
    DnsProxyTunables,
    FlatNetworkArgs,
    LanAttachment,
    NodeAddress,
)

__all__ = [
    "BgpPeering",
    "CiliumChart",
    "DnsProxyTunables",
    "FlatNetwork",
    "FlatNetworkArgs",
    "LanAttachment",
    "NodeAddress",
]
