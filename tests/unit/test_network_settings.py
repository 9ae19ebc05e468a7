"""`homelab:network` → FlatNetworkArgs: defaults, the example stacks, and every rule with its key."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Any

import pytest

from components.model import parse as model_parse
from components.network.model import CiliumChart, FlatNetworkSection
from components.validation import IPRange, Problems
from components.versions import CILIUM_VERSION
from lab.context import LabContext
from lab.network import parse_network

IP = ipaddress.IPv4Address


def dev_ctx() -> LabContext:
    return LabContext(
        lan=ipaddress.IPv4Network("192.168.2.0/24"),
        gateway=IP("192.168.2.1"),
        dhcp_range=IPRange.parse("192.168.2.100-192.168.2.199"),
        node_addresses={"cp01": IP("192.168.2.11"), "worker01": IP("192.168.2.21")},
        endpoint=IP("192.168.2.11"),
        pod_cidr=ipaddress.IPv4Network("10.244.0.0/16"),
        service_cidr=ipaddress.IPv4Network("10.96.0.0/12"),
    )


def prod_ctx() -> LabContext:
    nodes = {
        "worker01": IP("192.168.2.21"),
        "cp01": IP("192.168.2.11"),
        "cp02": IP("192.168.2.12"),
        "cp03": IP("192.168.2.13"),
        "worker02": IP("192.168.2.22"),
    }
    return replace(dev_ctx(), node_addresses=nodes, endpoint=IP("192.168.2.10"), vip=IP("192.168.2.10"))


def parse(raw: Any, ctx: LabContext | None = None, cps: tuple[str, ...] = ()) -> tuple[Any, Problems]:
    problems = Problems()
    return parse_network(raw, ctx or dev_ctx(), problems, cps), problems


def errors(problems: Problems) -> dict[str, str]:
    return {p.key: p.message for p in problems.errors}


# --- the example stacks ------------------------------------------------------------------

DEV = {
    "autoDirectNodeRoutes": True,
    "dnsProxy": {"minTtl": 3600, "maxIpsPerHostname": 50, "rejectResponseCode": "refused"},
}
PROD = {
    "autoDirectNodeRoutes": True,
    "bgp": {"enabled": True, "localAsn": 64512, "peerAsn": 64501, "peerAddress": "192.168.2.1"},
    "lanAttachment": {
        "enabled": True,
        "interface": "eno1",
        "range": "192.168.2.224-192.168.2.239",
        "namespaces": ["home"],
    },
    "dnsProxy": {"minTtl": 3600, "maxIpsPerHostname": 50, "rejectResponseCode": "refused"},
}


def test_dev_stack() -> None:
    args, problems = parse(DEV)
    assert not problems.errors and not problems.warnings
    assert args.pod_cidr == "10.244.0.0/16"
    assert args.lan_cidr == "192.168.2.0/24"
    assert (args.api_host, args.api_port) == ("192.168.2.11", 6443)
    assert [n.name for n in args.nodes] == ["cp01", "worker01"]
    assert args.service_cidr == "10.96.0.0/12"
    assert args.bgp is None and args.lan_attachment is None
    assert args.chart == CiliumChart(version=CILIUM_VERSION)


def test_prod_stack() -> None:
    args, problems = parse(PROD, prod_ctx(), ("cp01", "cp02", "cp03"))
    assert not problems.errors
    assert args.api_host == "192.168.2.10"
    assert [n.name for n in args.nodes] == ["cp01", "cp02", "cp03", "worker01", "worker02"]
    assert (args.bgp.local_asn, args.bgp.peer_asn, args.bgp.peer_address) == (64512, 64501, "192.168.2.1")
    lan = args.lan_attachment
    assert (lan.interface, lan.range, lan.namespaces, lan.gateway) == (
        "eno1",
        "192.168.2.224-192.168.2.239",
        ("home",),
        "192.168.2.1",
    )


def test_absent_section_gives_defaults() -> None:
    args, problems = parse(None)
    assert not problems.errors
    assert args.auto_direct_node_routes and args.expose_cluster_ips
    assert args.dns_proxy.min_ttl == 3600


def test_missing_cluster_facts_give_none_without_new_errors() -> None:
    args, problems = parse({}, replace(dev_ctx(), pod_cidr=None))
    assert args is None and not problems.errors


# --- every rule, one failing case each -----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key", "fragment"),
    [
        ({"tunnel": "vxlan"}, "homelab:network.tunnel", "unknown setting"),
        ({"autoDirectNodeRoutes": "yes"}, "homelab:network.autoDirectNodeRoutes", "true or false"),
        ({"bgp": {"enabled": True, "peerAsn": 64501}}, "homelab:network.bgp.localAsn", "is required"),
        ({"bgp": {"enabled": True, "localAsn": 0, "peerAsn": 64501}}, "homelab:network.bgp.localAsn", "between 1 and"),
        (
            {"bgp": {"enabled": True, "localAsn": 64512, "peerAsn": 64501, "peerAddress": "router"}},
            "homelab:network.bgp.peerAddress",
            "not an IPv4 address",
        ),
        (
            {"bgp": {"enabled": True, "localAsn": 64512, "peerAsn": 64501, "nodeSelector": {"rack": 1}}},
            "homelab:network.bgp.nodeSelector[rack]",
            "not a valid label value",
        ),
        (
            {"bgp": {"enabled": True, "localAsn": 64512, "peerAsn": 64501, "holdTime": 9}},
            "homelab:network.bgp.holdTime",
            "unknown setting",
        ),
        (
            {"lanAttachment": {"enabled": True, "range": "192.168.2.224-192.168.2.239"}},
            "homelab:network.lanAttachment.interface",
            "is required",
        ),
        (
            {"lanAttachment": {"enabled": True, "interface": "a-very-long-interface-name", "range": "192.168.2.224"}},
            "homelab:network.lanAttachment.interface",
            "not a network interface name",
        ),
        ({"lanAttachment": {"enabled": True, "interface": "eno1"}}, "homelab:network.lanAttachment.range", "required"),
        (
            {"lanAttachment": {"enabled": True, "interface": "eno1", "range": "192.168.3.10-192.168.3.20"}},
            "homelab:network.lanAttachment.range",
            "outside the LAN",
        ),
        (
            {"lanAttachment": {"enabled": True, "interface": "eno1", "range": "192.168.2.150-192.168.2.160"}},
            "homelab:network.lanAttachment.range",
            "DHCP range",
        ),
        (
            {"lanAttachment": {"enabled": True, "interface": "eno1", "range": "192.168.2.5-192.168.2.15"}},
            "homelab:network.lanAttachment.range",
            "node cp01's address",
        ),
        (
            {"lanAttachment": {"enabled": True, "interface": "eno1", "range": "192.168.2.224", "namespaces": []}},
            "homelab:network.lanAttachment.namespaces",
            "non-empty list",
        ),
        (
            {"lanAttachment": {"enabled": True, "interface": "eno1", "range": "192.168.2.224", "namespaces": ["Home"]}},
            "homelab:network.lanAttachment.namespaces[0]",
            "not a namespace name",
        ),
        (
            {
                "lanAttachment": {
                    "enabled": True,
                    "interface": "eno1",
                    "range": "192.168.2.224",
                    "namespaces": ["a", "a"],
                }
            },
            "homelab:network.lanAttachment.namespaces[1]",
            "listed twice",
        ),
        (
            {"lanAttachment": {"enabled": True, "interface": "eno1", "range": "192.168.2.224", "ipam": "dhcp"}},
            "homelab:network.lanAttachment.ipam",
            "static, host-local",
        ),
        ({"dnsProxy": {"minTtl": -1}}, "homelab:network.dnsProxy.minTtl", "between 0 and"),
        ({"dnsProxy": {"maxIpsPerHostname": 0}}, "homelab:network.dnsProxy.maxIpsPerHostname", "between 1 and"),
        (
            {"dnsProxy": {"rejectResponseCode": "nxdomain"}},
            "homelab:network.dnsProxy.rejectResponseCode",
            "refused, nameError",
        ),
        ({"chart": {"path": "./charts/cilium", "version": "1.18.6"}}, "homelab:network.chart.path", "one or the other"),
        ({"chart": {"url": "x"}}, "homelab:network.chart.url", "unknown setting"),
    ],
)
def test_bad_value_is_reported_under_its_key(raw: dict[str, Any], key: str, fragment: str) -> None:
    args, problems = parse(raw)
    found = errors(problems)
    assert args is None
    assert key in found, found
    assert fragment in found[key]


def test_every_problem_is_reported_at_once() -> None:
    _, problems = parse(
        {"autoDirectNodeRoutes": 1, "dnsProxy": {"minTtl": "x", "rejectResponseCode": "no"}, "bgp": {"enabled": True}}
    )
    assert len(problems.errors) >= 5


def test_pod_cidr_too_small_for_the_nodes() -> None:
    args, problems = parse({}, replace(dev_ctx(), pod_cidr=ipaddress.IPv4Network("10.244.0.0/24")))
    assert args is None
    assert "holds 1 node slice(s) of /24 but there are 2 nodes" in errors(problems)["homelab:cluster.podCidr"]


def test_bgp_peer_defaults_to_the_router() -> None:
    args, _ = parse({"bgp": {"enabled": True, "localAsn": 64512, "peerAsn": 64501}})
    assert args.bgp.peer_address == "192.168.2.1"


def test_disabled_sections_with_settings_warn() -> None:
    args, problems = parse({"bgp": {"enabled": False, "localAsn": 64512}})
    assert args.bgp is None
    assert any(w.key == "homelab:network.bgp.enabled" and "localAsn ignored" in w.message for w in problems.warnings)


def test_no_direct_routes_and_no_bgp_warns() -> None:
    _, problems = parse({"autoDirectNodeRoutes": False})
    assert any(w.key == "homelab:network.autoDirectNodeRoutes" for w in problems.warnings)


def test_host_local_ipam_warns_about_duplicates() -> None:
    args, problems = parse(
        {"lanAttachment": {"enabled": True, "interface": "eno1", "range": "192.168.2.224", "ipam": "host-local"}}
    )
    assert args.lan_attachment.ipam == "host-local"
    assert args.lan_attachment.range == "192.168.2.224-192.168.2.224"
    assert any(w.key == "homelab:network.lanAttachment.ipam" for w in problems.warnings)


def test_local_chart_path() -> None:
    args, problems = parse({"chart": {"path": "/charts/cilium"}})
    assert not problems.errors
    assert args.chart.path == "/charts/cilium"


def test_control_planes_come_first_in_join_order() -> None:
    args, _ = parse({}, prod_ctx(), ("cp01", "cp02", "cp03"))
    assert [n.name for n in args.nodes][:3] == ["cp01", "cp02", "cp03"]


def test_a_disabled_subsection_ignores_its_values_but_not_unknown_keys() -> None:
    args, problems = parse({"bgp": {"enabled": False, "localAsn": "x", "holdTime": 9}})
    assert args is None
    assert list(errors(problems)) == ["homelab:network.bgp.holdTime"]  # localAsn: 'x' is not checked
    assert errors(problems)["homelab:network.bgp.holdTime"].startswith("unknown setting (allowed: advertise")
    assert any("holdTime, localAsn ignored" in w.message for w in problems.warnings)


def test_model_and_lab_rules_report_together() -> None:
    _, problems = parse(
        {
            "bgp": {"enabled": True, "localAsn": 0},
            "lanAttachment": {
                "enabled": True,
                "interface": "a-very-long-interface-name",
                "range": "192.168.2.5-192.168.2.15",
                "namespaces": ["a", "Home", "a"],
            },
        }
    )
    found = errors(problems)
    assert "between 1 and" in found["homelab:network.bgp.localAsn"]
    assert found["homelab:network.bgp.peerAsn"] == "is required when BGP is enabled"
    assert "not a network interface name" in found["homelab:network.lanAttachment.interface"]
    assert "not a namespace name" in found["homelab:network.lanAttachment.namespaces[1]"]
    assert found["homelab:network.lanAttachment.namespaces[2]"] == "a is listed twice"
    assert "node cp01's address" in found["homelab:network.lanAttachment.range"]  # the lab's rule, at the same time


def test_an_empty_subsection_is_the_defaults() -> None:
    args, problems = parse({"bgp": None, "lanAttachment": None, "dnsProxy": None, "chart": None})
    assert not problems.errors
    assert args.bgp is None and args.lan_attachment is None and args.dns_proxy.min_ttl == 3600


def test_the_section_validates_without_a_lab() -> None:
    # Python callers and the editor schema have no LAN: the router is then required.
    problems = Problems()
    assert (
        model_parse(FlatNetworkSection, {"bgp": {"enabled": True, "localAsn": 1, "peerAsn": 2}}, "n", problems) is None
    )
    assert [str(p) for p in problems.errors] == ["n.bgp.peerAddress: is required when BGP is enabled"]
