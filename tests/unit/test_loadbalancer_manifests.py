"""MetalLB namespace (schema-checked), Helm values and custom resources (CRD field names)."""

from __future__ import annotations

from typing import Any

import pytest

from components.loadbalancer.manifests import (
    render_address_pool,
    render_bgp_advertisement,
    render_bgp_peer,
    render_custom_resources,
    render_l2_advertisement,
    render_metallb_values,
    render_namespace,
)
from components.loadbalancer.model import AddressPool, BgpSession, LoadBalancerArgs
from tests.support.schema import validate_builtin

POOLS = (
    AddressPool("lan", ("192.168.2.240-192.168.2.250",)),
    AddressPool("manual", ("192.168.2.252/32",), auto_assign=False),
)
BGP = BgpSession(my_asn=64512, peer_asn=64501, peer_address="192.168.2.1")
NS = "metallb-system"

# Spec fields, as named in metallb/metallb config/crd/bases/*.yaml.
SPEC_FIELDS: dict[str, set[str]] = {
    "IPAddressPool": {"addresses", "autoAssign", "avoidBuggyIPs", "serviceAllocation"},
    "L2Advertisement": {"ipAddressPools", "ipAddressPoolSelectors", "nodeSelectors", "interfaces"},
    "BGPPeer": {
        "myASN",
        "peerASN",
        "peerAddress",
        "sourceAddress",
        "peerPort",
        "holdTime",
        "keepaliveTime",
        "routerID",
        "nodeSelectors",
        "password",
        "passwordSecret",
        "bfdProfile",
        "ebgpMultiHop",
        "vrf",
    },
    "BGPAdvertisement": {
        "aggregationLength",
        "localPref",
        "communities",
        "ipAddressPools",
        "ipAddressPoolSelectors",
        "nodeSelectors",
        "peers",
    },
}
API_VERSIONS = {
    "IPAddressPool": "metallb.io/v1beta1",
    "L2Advertisement": "metallb.io/v1beta1",
    "BGPPeer": "metallb.io/v1beta2",
    "BGPAdvertisement": "metallb.io/v1beta1",
}


def check(obj: dict[str, Any]) -> None:
    assert obj["apiVersion"] == API_VERSIONS[obj["kind"]]
    assert obj["metadata"]["namespace"] == NS
    assert set(obj["spec"]) <= SPEC_FIELDS[obj["kind"]], set(obj["spec"]) - SPEC_FIELDS[obj["kind"]]


def test_namespace_allows_the_privileged_speaker() -> None:
    ns = render_namespace(NS)
    validate_builtin(ns)
    labels = ns["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "privileged"


def test_values_exclude_pod_interfaces_and_use_the_native_speaker() -> None:
    values = render_metallb_values()
    assert values["speaker"]["excludeInterfaces"] == {"enabled": True}
    assert values["speaker"]["frr"] == {"enabled": False}
    assert values["frrk8s"] == {"enabled": False}


def test_address_pool() -> None:
    pool = render_address_pool(POOLS[1], NS)
    check(pool)
    assert pool["metadata"]["name"] == "manual"
    assert pool["spec"] == {"addresses": ["192.168.2.252/32"], "autoAssign": False}


def test_l2_advertisement_names_every_pool() -> None:
    adv = render_l2_advertisement(POOLS, NS)
    check(adv)
    assert adv["spec"] == {"ipAddressPools": ["lan", "manual"]}
    assert render_l2_advertisement(POOLS, NS, ("eno1",))["spec"]["interfaces"] == ["eno1"]


def test_bgp_peer_is_v1beta2() -> None:
    peer = render_bgp_peer(BGP, NS)
    check(peer)
    assert peer["spec"] == {"myASN": 64512, "peerASN": 64501, "peerAddress": "192.168.2.1"}


def test_bgp_advertisement_targets_the_peer() -> None:
    adv = render_bgp_advertisement(POOLS, NS)
    check(adv)
    assert adv["spec"]["peers"] == [render_bgp_peer(BGP, NS)["metadata"]["name"]]


def test_l2_mode_objects() -> None:
    objs = render_custom_resources(LoadBalancerArgs(pools=POOLS))
    assert [o["kind"] for o in objs] == ["IPAddressPool", "IPAddressPool", "L2Advertisement"]
    for o in objs:
        check(o)


def test_bgp_mode_keeps_arp_for_on_link_clients() -> None:
    objs = render_custom_resources(LoadBalancerArgs(pools=POOLS, mode="bgp", bgp=BGP))
    assert [o["kind"] for o in objs] == [
        "IPAddressPool",
        "IPAddressPool",
        "L2Advertisement",
        "BGPPeer",
        "BGPAdvertisement",
    ]


def test_bgp_mode_needs_a_session() -> None:
    # The model refuses it before anything renders (a pydantic ValidationError is a ValueError).
    with pytest.raises(ValueError, match="is required when mode is bgp"):
        render_custom_resources(LoadBalancerArgs(pools=POOLS, mode="bgp"))
