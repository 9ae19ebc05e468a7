"""Cilium Helm values: native routing, no tunnel anywhere, masquerade and the coexistence knobs."""

from __future__ import annotations

import json

import pytest

from components.network.cilium_values import non_masquerade_cidrs, render_cilium_values
from components.network.model import (
    BgpPeering,
    DnsProxyTunables,
    FlatNetworkArgs,
    LanAttachment,
    NodeAddress,
)

NODES = (NodeAddress("cp01", "192.168.2.11"), NodeAddress("worker01", "192.168.2.21"))


def args(**kw: object) -> FlatNetworkArgs:
    base = FlatNetworkArgs(
        pod_cidr="10.244.0.0/16",
        lan_cidr="192.168.2.0/24",
        api_host="192.168.2.11",
        api_port=6443,
        nodes=NODES,
        service_cidr="10.96.0.0/12",
    )
    return base.model_copy(update=kw)


BGP = BgpPeering(local_asn=64512, peer_asn=64501, peer_address="192.168.2.1")
LAN = LanAttachment(
    interface="eno1", range="192.168.2.224-192.168.2.239", lan_cidr="192.168.2.0/24", gateway="192.168.2.1"
)


def walk(value: object, path: str = "") -> list[tuple[str, object]]:
    """Every (dotted key, leaf value) of a values document."""
    if isinstance(value, dict):
        out: list[tuple[str, object]] = []
        for k, v in value.items():
            out += [(f"{path}.{k}" if path else k, None), *walk(v, f"{path}.{k}" if path else k)]
        return out
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in walk(v, f"{path}[{i}]")]
    return [(path, value)]


@pytest.mark.parametrize("variant", [{}, {"bgp": BGP}, {"lan_attachment": LAN}, {"auto_direct_node_routes": False}])
def test_nothing_tunnel_related_is_rendered(variant: dict[str, object]) -> None:
    values = render_cilium_values(args(**variant))
    assert values["routingMode"] == "native"
    keys = [k.lower() for k, _ in walk(values)]
    assert not any("tunnel" in k for k in keys), keys
    text = json.dumps(values).lower()
    for word in ("tunnel", "vxlan", "geneve"):
        assert word not in text


def test_native_routing_over_the_pod_cidr() -> None:
    values = render_cilium_values(args())
    assert values["ipv4NativeRoutingCIDR"] == "10.244.0.0/16"
    assert values["autoDirectNodeRoutes"] is True
    assert values["ipam"] == {"mode": "kubernetes"}
    assert values["k8s"] == {"requireIPv4PodCIDR": True}
    assert render_cilium_values(args(auto_direct_node_routes=False))["autoDirectNodeRoutes"] is False


def test_kube_proxy_replacement_is_a_boolean_and_points_at_the_api_endpoint() -> None:
    values = render_cilium_values(args(api_host="192.168.2.10", api_port=6443))
    assert values["kubeProxyReplacement"] is True
    assert values["k8sServiceHost"] == "192.168.2.10"
    assert values["k8sServicePort"] == 6443


def test_masquerade_only_towards_the_internet() -> None:
    values = render_cilium_values(args())
    assert values["enableIPv4Masquerade"] is True
    assert values["bpf"]["masquerade"] is True
    agent = values["ipMasqAgent"]
    assert agent["enabled"] is True
    assert agent["config"]["nonMasqueradeCIDRs"] == ["10.244.0.0/16", "192.168.2.0/24"]
    assert agent["config"]["masqLinkLocal"] is False


def test_non_masquerade_cidrs_have_no_duplicates() -> None:
    assert non_masquerade_cidrs(args(lan_cidr="10.244.0.0/16")) == ["10.244.0.0/16"]


def test_load_balancing_coexists_with_metallb() -> None:
    values = render_cilium_values(args())
    assert values["loadBalancer"] == {"mode": "snat"}  # not DSR (cilium#12895)
    assert values["l2announcements"] == {"enabled": False}  # MetalLB answers ARP
    assert values["bpf"]["lbExternalClusterIP"] is True
    assert render_cilium_values(args(expose_cluster_ips=False))["bpf"]["lbExternalClusterIP"] is False


def test_bgp_control_plane_follows_the_bgp_option() -> None:
    assert render_cilium_values(args())["bgpControlPlane"] == {"enabled": False}
    assert render_cilium_values(args(bgp=BGP))["bgpControlPlane"] == {"enabled": True}


def test_dns_proxy_tunables_use_the_chart_names() -> None:
    values = render_cilium_values(
        args(dns_proxy=DnsProxyTunables(min_ttl=600, max_ips_per_hostname=20, reject_response_code="nameError"))
    )
    assert values["dnsProxy"] == {"minTtl": 600, "endpointMaxIpPerHostname": 20, "dnsRejectResponseCode": "nameError"}
    default = render_cilium_values(args())["dnsProxy"]
    assert default == {"minTtl": 3600, "endpointMaxIpPerHostname": 50, "dnsRejectResponseCode": "refused"}


def test_cni_exclusive_off_only_with_multus() -> None:
    assert render_cilium_values(args())["cni"] == {"exclusive": True}
    assert render_cilium_values(args(lan_attachment=LAN))["cni"] == {"exclusive": False}


def test_operator_replicas_fit_the_node_count() -> None:
    assert render_cilium_values(args())["operator"]["replicas"] == 2
    assert render_cilium_values(args(nodes=NODES[:1]))["operator"]["replicas"] == 1


def test_values_are_plain_json() -> None:
    json.dumps(render_cilium_values(args(bgp=BGP, lan_attachment=LAN)))
