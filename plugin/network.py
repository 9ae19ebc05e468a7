"""FlatNetwork and LoadBalancer for other Pulumi languages: plugin-friendly inputs → the real components."""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

import pulumi

from components.loadbalancer.component import LoadBalancer as RealLoadBalancer
from components.loadbalancer.model import AddressPool, BgpSession, LoadBalancerArgs, MetalLbChart
from components.loadbalancer.validation import check_pool_conflicts, metallb_address
from components.network.component import FlatNetwork as RealFlatNetwork
from components.network.model import (
    BgpPeering,
    CiliumChart,
    DnsProxyTunables,
    FlatNetworkArgs,
    LanAttachment,
    NodeAddress,
)
from components.validation import DNS1123_LABEL, IPRange, Problems
from plugin.inputs import (
    ChartSource,
    check_plain,
    child_options,
    cidr,
    integer,
    ipv4,
    optional_text,
    raise_if_any,
    string_map,
    strings,
    text,
)

FLAT_NETWORK_TOKEN = "homelab:index:FlatNetwork"
LOAD_BALANCER_TOKEN = "homelab:index:LoadBalancer"


class LanIpamMode(StrEnum):
    """How LAN-attached pods get their LAN address."""

    Static = "static"
    """Each pod names its address in the network-selection annotation."""
    HostLocal = "host-local"
    """Addresses handed out from the range by each node (single-node labs only: ranges are per node)."""


class DnsRejectResponse(StrEnum):
    """What Cilium's DNS proxy answers to a lookup the policy does not allow."""

    Refused = "refused"
    """REFUSED."""
    NxDomain = "nameError"
    """NXDOMAIN."""


class LoadBalancerMode(StrEnum):
    """How MetalLB announces LoadBalancer IPs."""

    L2 = "l2"
    """ARP from one node per IP."""
    Bgp = "bgp"
    """ARP on the LAN plus BGP routes at the router (needs bgp)."""


class NodeAddressSettings(TypedDict):
    """A node's name and LAN address."""

    name: str
    """Node name, as in the cluster."""
    address: str
    """The node's LAN IPv4 address."""


class BgpPeeringSettings(TypedDict):
    """Cilium's BGP control plane: every selected node peers with the home router."""

    local_asn: int
    """The cluster's ASN."""
    peer_asn: int
    """The router's ASN."""
    peer_address: str
    """The router's IPv4 address."""
    node_selector: NotRequired[dict[str, str]]
    """Labels of the nodes that peer (default: every node)."""
    advertise_pod_cidr: NotRequired[bool]
    """Announce each node's pod CIDR (default true)."""
    advertise_load_balancer_ips: NotRequired[bool]
    """Announce LoadBalancer IPs (default true)."""


class LanAttachmentSettings(TypedDict):
    """A second pod interface on the LAN itself (Multus + macvlan), for mDNS/SSDP workloads."""

    interface: str
    """The nodes' LAN NIC (same name on every node)."""
    range: str
    """Addresses for LAN-attached pods, `a-b` inside the LAN, outside DHCP and every pool."""
    lan_cidr: str
    """The LAN, e.g. 192.168.2.0/24."""
    gateway: str
    """The router's address."""
    namespaces: NotRequired[list[str]]
    """Namespaces that get the NetworkAttachmentDefinition (default [default])."""
    network_name: NotRequired[str]
    """Name of the NetworkAttachmentDefinition (default lan)."""
    ipam: NotRequired[LanIpamMode]
    """static (default) or host-local."""
    multus_version: NotRequired[str]
    """Multus version (default: the version this package pins)."""


class DnsProxySettings(TypedDict):
    """Cilium DNS proxy settings that FQDN egress policies depend on."""

    min_ttl: NotRequired[int]
    """Keep learned name→IP mappings at least this many seconds (default 3600)."""
    max_ips_per_hostname: NotRequired[int]
    """IPs remembered per name (default 50)."""
    reject_response_code: NotRequired[DnsRejectResponse]
    """Answer to a refused lookup (default refused)."""


class FlatNetworkArgsInput(TypedDict):
    """Inputs of FlatNetwork."""

    pod_cidr: str
    """The cluster's pod CIDR (routed natively, no encapsulation)."""
    lan_cidr: str
    """The home LAN."""
    api_host: str
    """The API server address Cilium uses before its own service routing exists (the endpoint/VIP)."""
    nodes: list[NodeAddressSettings]
    """Every node, control planes first (the order they joined)."""
    api_port: NotRequired[int]
    """API server port (default 6443)."""
    service_cidr: NotRequired[str]
    """The service CIDR, for the router routes when ClusterIPs are exposed."""
    auto_direct_node_routes: NotRequired[bool]
    """Nodes share one L2 and route pod CIDRs directly (default true)."""
    expose_cluster_ips: NotRequired[bool]
    """Make ClusterIPs reachable from the LAN (default true)."""
    bgp: NotRequired[BgpPeeringSettings]
    """Peer with the router over BGP."""
    lan_attachment: NotRequired[LanAttachmentSettings]
    """Give selected pods a second interface on the LAN."""
    dns_proxy: NotRequired[DnsProxySettings]
    """DNS proxy tunables for FQDN policies."""
    chart: NotRequired[ChartSource]
    """Where the Cilium chart comes from."""
    node_cidr_mask: NotRequired[int]
    """kube-controller-manager's node CIDR mask size (default 24)."""
    read_node_pod_cidrs: NotRequired[bool]
    """Read each Node's podCIDR for the router routes (default true)."""
    release_name: NotRequired[str]
    """Helm release name (default cilium)."""
    namespace: NotRequired[str]
    """Namespace (default kube-system)."""
    skip_await: NotRequired[bool]
    """Don't wait for Cilium's pods (default false)."""


class AddressPoolSettings(TypedDict):
    """A MetalLB pool of LAN addresses for LoadBalancer Services."""

    name: str
    """Pool name (DNS-1123 label)."""
    addresses: list[str]
    """Ranges `a-b`, single addresses or CIDRs, outside the DHCP range."""
    auto_assign: NotRequired[bool]
    """Hand these out to Services that don't ask for a pool (default true)."""


class BgpSessionSettings(TypedDict):
    """MetalLB's own BGP session to the router (mode bgp, only without Cilium's BGP)."""

    my_asn: int
    """The cluster's ASN."""
    peer_asn: int
    """The router's ASN."""
    peer_address: str
    """The router's IPv4 address."""


class LoadBalancerArgsInput(TypedDict):
    """Inputs of LoadBalancer."""

    pools: list[AddressPoolSettings]
    """Address pools (at least one)."""
    mode: NotRequired[LoadBalancerMode]
    """l2 (default) or bgp."""
    bgp: NotRequired[BgpSessionSettings]
    """The BGP session (mode bgp)."""
    interfaces: NotRequired[list[str]]
    """Announce only on these NICs (default: all)."""
    chart: NotRequired[ChartSource]
    """Where the MetalLB chart comes from."""
    namespace: NotRequired[str]
    """Namespace (default metallb-system)."""
    release_name: NotRequired[str]
    """Helm release name (default metallb)."""
    skip_await: NotRequired[bool]
    """Don't wait for MetalLB's pods (default false)."""


def _bgp_peering(raw: Mapping[str, Any] | None, problems: Problems) -> BgpPeering | None:
    if raw is None:
        return None
    return BgpPeering(
        local_asn=integer(raw.get("local_asn"), "bgp.localAsn", problems, lo=1, hi=4294967295),
        peer_asn=integer(raw.get("peer_asn"), "bgp.peerAsn", problems, lo=1, hi=4294967295),
        peer_address=ipv4(raw.get("peer_address"), "bgp.peerAddress", problems),
        node_selector=string_map(raw.get("node_selector")),
        advertise_pod_cidr=bool(raw.get("advertise_pod_cidr", True)),
        advertise_load_balancer_ips=bool(raw.get("advertise_load_balancer_ips", True)),
    )


def _lan_attachment(raw: Mapping[str, Any] | None, problems: Problems) -> LanAttachment | None:
    if raw is None:
        return None
    defaults = LanAttachment(interface="", range="", lan_cidr="", gateway="")
    rng = text(raw.get("range", ""))
    try:
        IPRange.parse(rng)
    except ValueError as exc:
        problems.error("lanAttachment.range", f"{rng!r} is not an address range ({exc})")
    ipam = text(raw.get("ipam", defaults.ipam))
    if ipam not in ("static", "host-local"):
        problems.error("lanAttachment.ipam", f"{ipam!r} must be static or host-local")
    return LanAttachment(
        interface=text(raw.get("interface", "")),
        range=rng,
        lan_cidr=cidr(raw.get("lan_cidr"), "lanAttachment.lanCidr", problems),
        gateway=ipv4(raw.get("gateway"), "lanAttachment.gateway", problems),
        namespaces=strings(raw.get("namespaces")) or defaults.namespaces,
        network_name=text(raw.get("network_name", defaults.network_name)),
        ipam="host-local" if ipam == "host-local" else "static",
        multus_version=text(raw.get("multus_version", defaults.multus_version)),
    )


def _dns_proxy(raw: Mapping[str, Any] | None, problems: Problems) -> DnsProxyTunables:
    raw = raw or {}
    d = DnsProxyTunables()
    code = text(raw.get("reject_response_code", d.reject_response_code))
    if code not in ("refused", "nameError"):
        problems.error("dnsProxy.rejectResponseCode", f"{code!r} must be refused or nameError")
    return DnsProxyTunables(
        min_ttl=integer(raw.get("min_ttl", d.min_ttl), "dnsProxy.minTtl", problems, lo=0),
        max_ips_per_hostname=integer(
            raw.get("max_ips_per_hostname", d.max_ips_per_hostname), "dnsProxy.maxIpsPerHostname", problems, lo=1
        ),
        reject_response_code="nameError" if code == "nameError" else "refused",
    )


def flat_network_args(args: Mapping[str, Any]) -> FlatNetworkArgs:
    """The real component's FlatNetworkArgs; every problem in the inputs at once (PluginInputError)."""
    problems = Problems()
    check_plain(args, problems)
    raise_if_any("FlatNetwork", problems)
    nodes = tuple(
        NodeAddress(name=text(n.get("name", "")), address=ipv4(n.get("address"), f"nodes[{i}].address", problems))
        for i, n in enumerate(args.get("nodes") or [])
    )
    chart_raw: Mapping[str, Any] = args.get("chart") or {}
    c = CiliumChart()
    d = FlatNetworkArgs(pod_cidr="", lan_cidr="", api_host="", api_port=6443, nodes=())
    service = args.get("service_cidr")
    result = FlatNetworkArgs(
        pod_cidr=cidr(args.get("pod_cidr"), "podCidr", problems),
        lan_cidr=cidr(args.get("lan_cidr"), "lanCidr", problems),
        api_host=text(args.get("api_host", "")),
        api_port=integer(args.get("api_port", 6443), "apiPort", problems, lo=1, hi=65535),
        nodes=nodes,
        service_cidr=cidr(service, "serviceCidr", problems) if service is not None else None,
        auto_direct_node_routes=bool(args.get("auto_direct_node_routes", d.auto_direct_node_routes)),
        expose_cluster_ips=bool(args.get("expose_cluster_ips", d.expose_cluster_ips)),
        bgp=_bgp_peering(args.get("bgp"), problems),
        lan_attachment=_lan_attachment(args.get("lan_attachment"), problems),
        dns_proxy=_dns_proxy(args.get("dns_proxy"), problems),
        chart=CiliumChart(
            repo=text(chart_raw.get("repo", c.repo)),
            version=text(chart_raw.get("version", c.version)),
            path=optional_text(chart_raw.get("path")),
        ),
        node_cidr_mask=integer(args.get("node_cidr_mask", d.node_cidr_mask), "nodeCidrMask", problems, lo=8, hi=30),
        read_node_pod_cidrs=bool(args.get("read_node_pod_cidrs", d.read_node_pod_cidrs)),
        release_name=text(args.get("release_name", d.release_name)),
        namespace=text(args.get("namespace", d.namespace)),
        skip_await=bool(args.get("skip_await", False)),
    )
    if not result.api_host:
        problems.error("apiHost", "the API server address is required")
    raise_if_any("FlatNetwork", problems)
    return result


def load_balancer_args(args: Mapping[str, Any]) -> LoadBalancerArgs:
    """The real component's LoadBalancerArgs; every problem in the inputs at once (PluginInputError)."""
    problems = Problems()
    check_plain(args, problems)
    raise_if_any("LoadBalancer", problems)
    pools: list[AddressPool] = []
    parsed: list[tuple[str, list[IPRange | None]]] = []
    raw_pools = args.get("pools") or []
    if not raw_pools:
        problems.error("pools", "at least one pool is required")
    for i, raw in enumerate(raw_pools):
        name = text(raw.get("name", ""))
        if not DNS1123_LABEL.match(name):
            problems.error(f"pools[{i}].name", f"{name!r} is not a DNS-1123 label")
        ranges: list[IPRange | None] = []
        addresses: list[str] = []
        for j, addr in enumerate(strings(raw.get("addresses"))):
            try:
                rng = IPRange.parse(addr)
            except ValueError as exc:
                problems.error(f"pools[{i}].addresses[{j}]", f"{addr!r} is not `a-b`, an address or a CIDR ({exc})")
                ranges.append(None)
                continue
            ranges.append(rng)
            addresses.append(metallb_address(rng, addr))
        if not ranges:
            problems.error(f"pools[{i}].addresses", "at least one address range is required")
        parsed.append((name, ranges))
        pools.append(AddressPool(name=name, addresses=tuple(addresses), auto_assign=bool(raw.get("auto_assign", True))))
    check_pool_conflicts(parsed, [], problems, "pools")

    mode = text(args.get("mode", "l2"))
    if mode not in ("l2", "bgp"):
        problems.error("mode", f"{mode!r} must be l2 or bgp")
    bgp_raw: Mapping[str, Any] | None = args.get("bgp")
    bgp = None
    if bgp_raw is not None:
        bgp = BgpSession(
            my_asn=integer(bgp_raw.get("my_asn"), "bgp.myAsn", problems, lo=1, hi=4294967295),
            peer_asn=integer(bgp_raw.get("peer_asn"), "bgp.peerAsn", problems, lo=1, hi=4294967295),
            peer_address=ipv4(bgp_raw.get("peer_address"), "bgp.peerAddress", problems),
        )
    elif mode == "bgp":
        problems.error("bgp", "is required when mode is bgp")
    chart_raw: Mapping[str, Any] = args.get("chart") or {}
    c = MetalLbChart()
    d = LoadBalancerArgs(pools=())
    raise_if_any("LoadBalancer", problems)
    return LoadBalancerArgs(
        pools=tuple(pools),
        mode="bgp" if mode == "bgp" else "l2",
        bgp=bgp,
        interfaces=strings(args.get("interfaces")),
        chart=MetalLbChart(
            repo=text(chart_raw.get("repo", c.repo)),
            version=text(chart_raw.get("version", c.version)),
            path=optional_text(chart_raw.get("path")),
        ),
        namespace=text(args.get("namespace", d.namespace)),
        release_name=text(args.get("release_name", d.release_name)),
        skip_await=bool(args.get("skip_await", False)),
    )


class FlatNetwork(pulumi.ComponentResource):
    """Cilium in native routing (no encapsulation, kube-proxy replacement) on the home LAN.

    Optional BGP peering with the router and a second LAN interface for pods (Multus +
    macvlan). Pass the cluster's Kubernetes provider in the resource options.
    """

    release_name: pulumi.Output[str]
    """The Cilium Helm release name."""
    namespace: pulumi.Output[str]
    """Cilium's namespace."""
    bgp_enabled: pulumi.Output[bool]
    """Whether Cilium peers with the router."""
    router_routes: pulumi.Output[dict[str, Any]]
    """Static routes to enter on a router without BGP: {routes, summary, serviceRoute, predicted, commands}."""
    lan_network: pulumi.Output[str | None]
    """Name of the LAN NetworkAttachmentDefinition, when there is one."""

    def __init__(self, name: str, args: FlatNetworkArgsInput, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(FLAT_NETWORK_TOKEN, name, None, opts)
        inner = RealFlatNetwork(name, flat_network_args(args), opts=child_options(self, opts))
        self.release_name = inner.release_name
        self.namespace = inner.namespace
        self.bgp_enabled = inner.bgp_enabled
        self.router_routes = inner.router_routes
        self.lan_network = inner.lan_attachment
        self.register_outputs(
            {
                "releaseName": self.release_name,
                "namespace": self.namespace,
                "bgpEnabled": self.bgp_enabled,
                "routerRoutes": self.router_routes,
                "lanNetwork": self.lan_network,
            }
        )


class LoadBalancer(pulumi.ComponentResource):
    """MetalLB with address pools on the home LAN and their L2 (or BGP) announcements.

    Pass the cluster's Kubernetes provider in the resource options, and depend on the
    network (MetalLB's pods need the CNI).
    """

    namespace: pulumi.Output[str]
    """MetalLB's namespace."""
    announce_mode: pulumi.Output[str]
    """l2 or bgp, as applied."""
    pool_addresses: pulumi.Output[dict[str, list[str]]]
    """Pool name → address ranges, as MetalLB got them."""

    def __init__(self, name: str, args: LoadBalancerArgsInput, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(LOAD_BALANCER_TOKEN, name, None, opts)
        inner = RealLoadBalancer(name, load_balancer_args(args), opts=child_options(self, opts))
        self.namespace = inner.namespace
        self.announce_mode = inner.mode
        self.pool_addresses = inner.pools
        self.register_outputs(
            {"namespace": self.namespace, "announceMode": self.announce_mode, "poolAddresses": self.pool_addresses}
        )
