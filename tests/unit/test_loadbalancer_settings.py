"""`homelab:loadBalancer` → LoadBalancerArgs: the example stacks and every rule with its key."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from components.loadbalancer.model import AddressPool, BgpSession, MetalLbChart
from components.network.model import BgpPeering, FlatNetworkArgs, LanAttachment, NodeAddress
from components.validation import IPRange, Problems
from lab.context import LabContext
from lab.loadbalancer import parse_load_balancer

IP = ipaddress.IPv4Address
KEY = "homelab:loadBalancer"


def ctx() -> LabContext:
    return LabContext(
        lan=ipaddress.IPv4Network("192.168.2.0/24"),
        gateway=IP("192.168.2.1"),
        dhcp_range=IPRange.parse("192.168.2.100-192.168.2.199"),
        node_addresses={
            "cp01": IP("192.168.2.11"),
            "cp02": IP("192.168.2.12"),
            "cp03": IP("192.168.2.13"),
            "worker01": IP("192.168.2.21"),
            "worker02": IP("192.168.2.22"),
        },
        endpoint=IP("192.168.2.10"),
        vip=IP("192.168.2.10"),
        pod_cidr=ipaddress.IPv4Network("10.244.0.0/16"),
        service_cidr=ipaddress.IPv4Network("10.96.0.0/12"),
    )


NETWORK = FlatNetworkArgs(
    pod_cidr="10.244.0.0/16",
    lan_cidr="192.168.2.0/24",
    api_host="192.168.2.10",
    api_port=6443,
    nodes=(NodeAddress("cp01", "192.168.2.11"),),
)
LAN_ATTACHMENT = LanAttachment(
    interface="eno1", range="192.168.2.224-192.168.2.239", lan_cidr="192.168.2.0/24", gateway="192.168.2.1"
)
CILIUM_BGP = BgpPeering(local_asn=64512, peer_asn=64501, peer_address="192.168.2.1")

POOL = {"name": "lan", "addresses": ["192.168.2.240-192.168.2.250"]}


def parse(raw: Any, network: FlatNetworkArgs | None = None) -> tuple[Any, Problems]:
    problems = Problems()
    return parse_load_balancer(raw, ctx(), problems, network), problems


def errors(problems: Problems) -> dict[str, str]:
    return {p.key: p.message for p in problems.errors}


def test_dev_stack_l2() -> None:
    args, problems = parse({"pools": [POOL], "mode": "l2"})
    assert not problems.errors
    assert args.pools == (AddressPool("lan", ("192.168.2.240-192.168.2.250",)),)
    assert args.mode == "l2" and args.bgp is None
    assert args.chart == MetalLbChart()


def test_prod_stack_with_cilium_bgp_stays_l2() -> None:
    network = NETWORK.model_copy(update={"bgp": CILIUM_BGP, "lan_attachment": LAN_ATTACHMENT})
    args, problems = parse({"pools": [POOL], "mode": "l2", "interfaces": ["eno1"]}, network)
    assert not problems.errors
    assert args.interfaces == ("eno1",)


def test_metallb_bgp_without_cilium_bgp() -> None:
    args, problems = parse({"pools": [POOL], "mode": "bgp", "bgp": {"myAsn": 64512, "peerAsn": 64501}}, NETWORK)
    assert not problems.errors
    assert args.bgp == BgpSession(64512, 64501, "192.168.2.1")  # the router by default


def test_absent_section_means_no_metallb() -> None:
    args, problems = parse(None)
    assert args is None and not problems.errors


def test_overlapping_pool_gives_one_clear_error_naming_the_key() -> None:
    raw = {"pools": [POOL, {"name": "more", "addresses": ["192.168.2.245-192.168.2.254"]}]}
    args, problems = parse(raw)
    assert args is None
    assert errors(problems) == {
        f"{KEY}.pools[1].addresses[0]": "192.168.2.245-192.168.2.254 overlaps "
        f"{KEY}.pools[0].addresses[0] (pool lan): 192.168.2.240-192.168.2.250"
    }


@pytest.mark.parametrize(
    ("raw", "key", "fragment"),
    [
        ({"pools": [POOL], "speakers": 3}, f"{KEY}.speakers", "unknown setting"),
        ({}, f"{KEY}.pools", "is required"),
        ({"pools": []}, f"{KEY}.pools", "at least one pool"),
        ({"pools": [{"addresses": ["192.168.2.240"]}]}, f"{KEY}.pools[0].name", "is required"),
        ({"pools": [{"name": "LAN", "addresses": ["192.168.2.240"]}]}, f"{KEY}.pools[0].name", "not a valid pool name"),
        (
            {"pools": [POOL, {"name": "lan", "addresses": ["192.168.2.251"]}]},
            f"{KEY}.pools[1].name",
            "already the name",
        ),
        ({"pools": [{"name": "lan"}]}, f"{KEY}.pools[0].addresses", "at least one address range"),
        ({"pools": [{"name": "lan", "addresses": ["nope"]}]}, f"{KEY}.pools[0].addresses[0]", "not an address range"),
        (
            {"pools": [{"name": "lan", "addresses": ["192.168.2.240"], "shared": True}]},
            f"{KEY}.pools[0].shared",
            "unknown setting",
        ),
        (
            {"pools": [{"name": "lan", "addresses": ["10.10.0.1-10.10.0.9"]}]},
            f"{KEY}.pools[0].addresses[0]",
            "outside the LAN",
        ),
        (
            {"pools": [{"name": "lan", "addresses": ["192.168.2.248-192.168.2.255"]}]},
            f"{KEY}.pools[0].addresses[0]",
            "broadcast",
        ),
        (
            {"pools": [{"name": "lan", "addresses": ["192.168.2.190-192.168.2.210"]}]},
            f"{KEY}.pools[0].addresses[0]",
            "DHCP range",
        ),
        ({"pools": [{"name": "lan", "addresses": ["192.168.2.1"]}]}, f"{KEY}.pools[0].addresses[0]", "the router"),
        (
            {"pools": [{"name": "lan", "addresses": ["192.168.2.20-192.168.2.25"]}]},
            f"{KEY}.pools[0].addresses[0]",
            "node worker01's address",
        ),
        (
            {"pools": [{"name": "lan", "addresses": ["192.168.2.10"]}]},
            f"{KEY}.pools[0].addresses[0]",
            "control-plane VIP",
        ),
        ({"pools": [POOL], "mode": "arp"}, f"{KEY}.mode", "one of l2, bgp"),
        ({"pools": [POOL], "mode": "bgp", "bgp": {"peerAsn": 64501}}, f"{KEY}.bgp.myAsn", "is required"),
        ({"pools": [POOL], "mode": "bgp", "bgp": {"myAsn": 64512, "peerAsn": -1}}, f"{KEY}.bgp.peerAsn", "between 1"),
        (
            {"pools": [POOL], "mode": "bgp", "bgp": {"myAsn": 1, "peerAsn": 2, "peerAddress": "x"}},
            f"{KEY}.bgp.peerAddress",
            "not an IPv4 address",
        ),
        ({"pools": [POOL], "bgp": {"myAsn": 1}}, f"{KEY}.bgp", "only used with mode: bgp"),
        ({"pools": [POOL], "interfaces": ["eth0", "x" * 20]}, f"{KEY}.interfaces[1]", "not a network interface"),
        ({"pools": [POOL], "chart": {"path": "./c", "repo": "https://x"}}, f"{KEY}.chart.path", "one or the other"),
    ],
)
def test_bad_value_is_reported_under_its_key(raw: dict[str, Any], key: str, fragment: str) -> None:
    args, problems = parse(raw)
    found = errors(problems)
    assert args is None
    assert key in found, found
    assert fragment in found[key]


def test_pool_over_the_lan_attachment_range() -> None:
    network = NETWORK.model_copy(update={"lan_attachment": LAN_ATTACHMENT})
    args, problems = parse({"pools": [{"name": "lan", "addresses": ["192.168.2.230-192.168.2.240"]}]}, network)
    assert args is None
    assert (
        "LAN attachment range (homelab:network.lanAttachment.range): 192.168.2.224-192.168.2.239"
        in (errors(problems)[f"{KEY}.pools[0].addresses[0]"])
    )


def test_metallb_bgp_next_to_cilium_bgp_is_refused_naming_both_keys() -> None:
    network = NETWORK.model_copy(update={"bgp": CILIUM_BGP})
    args, problems = parse({"pools": [POOL], "mode": "bgp", "bgp": {"myAsn": 64512, "peerAsn": 64501}}, network)
    assert args is None
    message = errors(problems)[f"{KEY}.mode"]
    assert "homelab:network.bgp.enabled" in message
    assert "homelab:loadBalancer.mode: l2" in message


def test_out_of_lan_range_gets_no_overlap_noise() -> None:
    _, problems = parse({"pools": [{"name": "lan", "addresses": ["10.244.0.1-10.244.0.9"]}]})
    assert [p.message for p in problems.errors] == ["10.244.0.1-10.244.0.9 is outside the LAN 192.168.2.0/24"]


def test_every_problem_is_reported_at_once() -> None:
    raw = {"mode": "x", "pools": [{"name": "A", "addresses": ["192.168.2.150", "bad"]}], "extra": 1}
    _, problems = parse(raw)
    assert len(problems.errors) == 5


def test_address_forms_are_normalised() -> None:
    args, _ = parse(
        {"pools": [{"name": "lan", "addresses": ["192.168.2.240/29", "192.168.2.250"], "autoAssign": False}]}
    )
    assert args.pools[0] == AddressPool("lan", ("192.168.2.240/29", "192.168.2.250/32"), auto_assign=False)


def test_local_chart_path() -> None:
    args, _ = parse({"pools": [POOL], "chart": {"path": "/charts/metallb"}, "skipAwait": True})
    assert args.chart.path == "/charts/metallb" and args.skip_await


def test_bgp_mode_without_a_session_is_reported_with_other_problems() -> None:
    _, problems = parse({"pools": [{"name": "LAN", "addresses": ["192.168.2.240"]}], "mode": "bgp"})
    assert errors(problems) == {
        f"{KEY}.pools[0].name": "'LAN' is not a valid pool name (lowercase letters, digits, '-')",
        f"{KEY}.bgp": "is required when mode is bgp",
    }
    _, problems = parse({"pools": [POOL], "mode": "bgp"})
    assert [str(p) for p in problems.errors] == [f"{KEY}.bgp: is required when mode is bgp"]  # once
