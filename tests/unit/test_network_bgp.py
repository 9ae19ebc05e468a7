"""Cilium BGP v2 custom resources, checked against the v2 CRDs' field names."""

from __future__ import annotations

from typing import Any

from components.network.bgp import (
    ADVERTISE_LABEL,
    PEER_CONFIG_NAME,
    SERVICE_OPT_OUT_LABEL,
    render_bgp_resources,
    service_addresses,
)
from components.network.model import BgpPeering

BGP = BgpPeering(local_asn=64512, peer_asn=64501, peer_address="192.168.2.1")

# Spec fields used here, as named in cilium/cilium pkg/k8s/apis/cilium.io/client/crds/v2/*.yaml.
CRD_FIELDS: dict[str, dict[str, set[str]]] = {
    "CiliumBGPClusterConfig": {
        "spec": {"bgpInstances", "nodeSelector"},
        "bgpInstances": {"name", "localASN", "localPort", "peers"},
        "peers": {"name", "peerASN", "peerAddress", "peerConfigRef", "autoDiscovery"},
        "peerConfigRef": {"name"},  # v2 dropped group/kind
        "nodeSelector": {"matchLabels", "matchExpressions"},
    },
    "CiliumBGPPeerConfig": {
        "spec": {"authSecretRef", "ebgpMultihop", "families", "gracefulRestart", "timers", "transport"},
        "families": {"afi", "safi", "advertisements"},
        "gracefulRestart": {"enabled", "restartTimeSeconds"},
    },
    "CiliumBGPAdvertisement": {
        "spec": {"advertisements"},
        "advertisements": {"advertisementType", "attributes", "selector", "service", "interface"},
        "service": {"addresses", "aggregationLengthIPv4", "aggregationLengthIPv6"},
    },
}


def by_kind(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objs}


def check_fields(kind: str, name: str, value: Any) -> None:
    allowed = CRD_FIELDS[kind]
    if isinstance(value, list):
        for item in value:
            check_fields(kind, name, item)
        return
    if isinstance(value, dict) and name in allowed:
        assert set(value) <= allowed[name], f"{kind}.{name}: unknown {set(value) - allowed[name]}"
        for k, v in value.items():
            check_fields(kind, k, v)


def test_three_v2_resources_cluster_scoped() -> None:
    objs = render_bgp_resources(BGP, expose_cluster_ips=False)
    assert [o["kind"] for o in objs] == ["CiliumBGPClusterConfig", "CiliumBGPPeerConfig", "CiliumBGPAdvertisement"]
    for o in objs:
        assert o["apiVersion"] == "cilium.io/v2"
        assert "namespace" not in o["metadata"]
        check_fields(o["kind"], "spec", o["spec"])


def test_cluster_config_peers_with_the_router() -> None:
    cc = by_kind(render_bgp_resources(BGP, expose_cluster_ips=False))["CiliumBGPClusterConfig"]
    (instance,) = cc["spec"]["bgpInstances"]
    assert instance["localASN"] == 64512
    (peer,) = instance["peers"]
    assert peer == {
        "name": "router",
        "peerASN": 64501,
        "peerAddress": "192.168.2.1",
        "peerConfigRef": {"name": PEER_CONFIG_NAME},
    }
    assert "nodeSelector" not in cc["spec"]  # every node


def test_node_selector_is_rendered_when_given() -> None:
    bgp = BgpPeering(64512, 64501, "192.168.2.1", node_selector={"homelab/bgp": "yes"})
    cc = by_kind(render_bgp_resources(bgp, expose_cluster_ips=False))["CiliumBGPClusterConfig"]
    assert cc["spec"]["nodeSelector"] == {"matchLabels": {"homelab/bgp": "yes"}}


def test_peer_config_selects_the_advertisement_by_label() -> None:
    objs = by_kind(render_bgp_resources(BGP, expose_cluster_ips=False))
    pc, adv = objs["CiliumBGPPeerConfig"], objs["CiliumBGPAdvertisement"]
    assert pc["metadata"]["name"] == PEER_CONFIG_NAME
    (family,) = pc["spec"]["families"]
    assert (family["afi"], family["safi"]) == ("ipv4", "unicast")
    assert family["advertisements"]["matchLabels"].items() <= adv["metadata"]["labels"].items()
    assert ADVERTISE_LABEL in adv["metadata"]["labels"]


def test_advertises_pod_cidr_and_load_balancer_ips() -> None:
    adv = by_kind(render_bgp_resources(BGP, expose_cluster_ips=False))["CiliumBGPAdvertisement"]
    pod, svc = adv["spec"]["advertisements"]
    assert pod == {"advertisementType": "PodCIDR"}  # PodCIDR takes no selector
    assert svc["advertisementType"] == "Service"
    assert svc["service"] == {"addresses": ["LoadBalancerIP"]}
    # An empty selector would select nothing: every Service but the opted-out ones.
    assert svc["selector"] == {"matchExpressions": [{"key": SERVICE_OPT_OUT_LABEL, "operator": "DoesNotExist"}]}


def test_cluster_ips_advertised_when_exposed() -> None:
    assert service_addresses(BGP, expose_cluster_ips=True) == ["LoadBalancerIP", "ClusterIP"]


def test_nothing_to_advertise_means_no_advertisement() -> None:
    bgp = BgpPeering(64512, 64501, "192.168.2.1", advertise_pod_cidr=False, advertise_load_balancer_ips=False)
    kinds = [o["kind"] for o in render_bgp_resources(bgp, expose_cluster_ips=False)]
    assert kinds == ["CiliumBGPClusterConfig", "CiliumBGPPeerConfig"]


def test_pod_cidr_only() -> None:
    bgp = BgpPeering(64512, 64501, "192.168.2.1", advertise_load_balancer_ips=False)
    adv = by_kind(render_bgp_resources(bgp, expose_cluster_ips=False))["CiliumBGPAdvertisement"]
    assert adv["spec"]["advertisements"] == [{"advertisementType": "PodCIDR"}]
