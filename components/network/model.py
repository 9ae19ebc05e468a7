"""Typed arguments of FlatNetwork: plain values, no pulumi.Config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from components.versions import CILIUM_VERSION, MULTUS_VERSION

CILIUM_REPO = "https://helm.cilium.io"

DnsRejectCode = Literal["refused", "nameError"]
LanIpam = Literal["static", "host-local"]


@dataclass(frozen=True)
class CiliumChart:
    """Where the Cilium chart comes from: a repo + pinned version, or a local chart (dir or .tgz)."""

    repo: str = CILIUM_REPO
    version: str = CILIUM_VERSION
    path: str | None = None  # wins over repo/version; tests and offline runs use it


@dataclass(frozen=True)
class NodeAddress:
    """A node's name and LAN address, listed in the order the nodes join (control planes first)."""

    name: str
    address: str


@dataclass(frozen=True)
class BgpPeering:
    """Cilium's BGP control plane peering every selected node with the home router."""

    local_asn: int
    peer_asn: int
    peer_address: str
    node_selector: dict[str, str] = field(default_factory=dict)  # empty: every node
    advertise_pod_cidr: bool = True
    advertise_load_balancer_ips: bool = True


@dataclass(frozen=True)
class LanAttachment:
    """A second pod interface on the LAN itself (Multus + macvlan), for mDNS/SSDP workloads."""

    interface: str  # the node NIC on the LAN, the same name on every node
    range: str  # `a-b` inside the LAN, outside DHCP and every pool
    lan_cidr: str
    gateway: str
    namespaces: tuple[str, ...] = ("default",)
    network_name: str = "lan"
    ipam: LanIpam = "static"
    multus_version: str = MULTUS_VERSION


@dataclass(frozen=True)
class DnsProxyTunables:
    """Cilium DNS proxy settings that toFQDNs policies depend on."""

    min_ttl: int = 3600  # keep learned FQDN→IP mappings (and the policy they feed) for at least an hour
    max_ips_per_hostname: int = 50
    reject_response_code: DnsRejectCode = "refused"


@dataclass(frozen=True)
class FlatNetworkArgs:
    """Args of FlatNetwork: Cilium in native routing on the LAN, and its options."""

    pod_cidr: str
    lan_cidr: str
    api_host: str  # the API endpoint Cilium talks to before kube-proxy-less service routing exists
    api_port: int
    nodes: tuple[NodeAddress, ...]  # join order: control planes first
    service_cidr: str | None = None
    auto_direct_node_routes: bool = True  # every node shares the LAN's L2
    expose_cluster_ips: bool = True  # ClusterIPs reachable from the LAN (bpf.lbExternalClusterIP)
    bgp: BgpPeering | None = None
    lan_attachment: LanAttachment | None = None
    dns_proxy: DnsProxyTunables = field(default_factory=DnsProxyTunables)
    chart: CiliumChart = field(default_factory=CiliumChart)
    node_cidr_mask: int = 24  # kube-controller-manager's --node-cidr-mask-size (kubeadm default)
    read_node_pod_cidrs: bool = True  # read each Node's spec.podCIDR for the router routes
    release_name: str = "cilium"
    namespace: str = "kube-system"
    skip_await: bool = False

    @property
    def operator_replicas(self) -> int:
        # Two operators with anti-affinity; a one-node lab can only schedule one.
        return 2 if len(self.nodes) > 1 else 1
