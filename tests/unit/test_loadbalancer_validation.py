"""The pure pool rules: inside the LAN, clear of reserved addresses and of each other."""

from __future__ import annotations

import ipaddress

from components.loadbalancer.validation import (
    check_pool_conflicts,
    check_pools_in_lan,
    check_range_conflicts,
    check_range_in_lan,
    metallb_address,
)
from components.validation import IPRange, Problems

LAN = ipaddress.IPv4Network("192.168.2.0/24")
R = IPRange.parse
RESERVED = [
    ("the router (homelab:lan.gateway)", R("192.168.2.1")),
    ("the router's DHCP range (homelab:lan.dhcpRange)", R("192.168.2.100-192.168.2.199")),
    ("node cp01's address", R("192.168.2.11")),
]
KEY = "homelab:loadBalancer.pools"


def msgs(problems: Problems) -> dict[str, str]:
    return {p.key: p.message for p in problems.errors}


def test_range_inside_the_lan_passes() -> None:
    problems = Problems()
    assert check_range_in_lan(R("192.168.2.240-192.168.2.250"), LAN, problems, "k")
    assert not problems.errors


def test_range_outside_the_lan() -> None:
    problems = Problems()
    assert not check_range_in_lan(R("192.168.3.1-192.168.3.9"), LAN, problems, "k")
    assert msgs(problems) == {"k": "192.168.3.1-192.168.3.9 is outside the LAN 192.168.2.0/24"}


def test_range_with_the_broadcast_address() -> None:
    problems = Problems()
    assert not check_range_in_lan(R("192.168.2.250-192.168.2.255"), LAN, problems, "k")
    assert "broadcast address 192.168.2.255" in msgs(problems)["k"]


def test_range_with_the_network_address() -> None:
    problems = Problems()
    check_range_in_lan(R("192.168.2.0/28"), LAN, problems, "k")
    assert "network address 192.168.2.0" in msgs(problems)["k"]


def test_unknown_lan_skips_the_rule() -> None:
    problems = Problems()
    assert check_range_in_lan(R("10.0.0.1"), None, problems, "k")
    assert not problems.errors


def test_overlap_names_everything_in_one_error() -> None:
    problems = Problems()
    assert not check_range_conflicts(R("192.168.2.1-192.168.2.120"), RESERVED, problems, "k")
    assert len(problems.errors) == 1
    message = msgs(problems)["k"]
    assert "the router (homelab:lan.gateway): 192.168.2.1" in message
    assert "DHCP range (homelab:lan.dhcpRange): 192.168.2.100-192.168.2.199" in message
    assert "node cp01's address: 192.168.2.11" in message


def test_overlapping_pool_gives_one_clear_error_naming_the_key() -> None:
    problems = Problems()
    pools = [
        ("lan", [R("192.168.2.240-192.168.2.250")]),
        ("extra", [R("192.168.2.230"), R("192.168.2.245-192.168.2.247")]),
    ]
    check_pool_conflicts(pools, RESERVED, problems, KEY)
    assert msgs(problems) == {
        f"{KEY}[1].addresses[1]": "192.168.2.245-192.168.2.247 overlaps "
        f"{KEY}[0].addresses[0] (pool lan): 192.168.2.240-192.168.2.250"
    }


def test_overlap_inside_one_pool() -> None:
    problems = Problems()
    check_pool_conflicts([("lan", [R("192.168.2.240-192.168.2.245"), R("192.168.2.245")])], [], problems, KEY)
    assert list(msgs(problems)) == [f"{KEY}[0].addresses[1]"]


def test_pool_over_reserved_addresses() -> None:
    problems = Problems()
    check_pool_conflicts([("lan", [R("192.168.2.190-192.168.2.210")])], RESERVED, problems, KEY)
    assert "DHCP range" in msgs(problems)[f"{KEY}[0].addresses[0]"]


def test_unparsed_entries_keep_the_others_keys() -> None:
    problems = Problems()
    check_pool_conflicts([("lan", [None, R("192.168.2.150")])], RESERVED, problems, KEY)
    check_pools_in_lan([("lan", [None, R("10.1.1.1")])], LAN, problems, KEY)
    assert set(msgs(problems)) == {f"{KEY}[0].addresses[1]"}


def test_disjoint_pools_pass() -> None:
    problems = Problems()
    pools = [("a", [R("192.168.2.240-192.168.2.244")]), ("b", [R("192.168.2.245-192.168.2.250")])]
    check_pool_conflicts(pools, RESERVED, problems, KEY)
    check_pools_in_lan(pools, LAN, problems, KEY)
    assert not problems.errors


def test_metallb_address_forms() -> None:
    assert (
        metallb_address(R("192.168.2.240-192.168.2.250"), "192.168.2.240 - 192.168.2.250")
        == "192.168.2.240-192.168.2.250"
    )
    assert metallb_address(R("192.168.2.240/29"), "192.168.2.240/29") == "192.168.2.240/29"
    assert metallb_address(R("192.168.2.240"), "192.168.2.240") == "192.168.2.240/32"
