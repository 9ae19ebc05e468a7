"""`homelab:dns` parsing: every rule, every message under its config key, all at once."""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pytest

from components.dns.check import args_problems, overlap_problems, record_name_problem, zone_name_problem
from components.dns.model import DnsZonesArgs, ForwardZone, ServiceRef, Zone
from components.validation import IPRange, Problems
from lab.context import LabContext
from lab.dns import parse_dns


def ctx(domain: str = "cluster.local") -> LabContext:
    return LabContext(
        lan=ipaddress.IPv4Network("192.168.2.0/24"),
        gateway=ipaddress.IPv4Address("192.168.2.1"),
        dhcp_range=IPRange.parse("192.168.2.100-192.168.2.199"),
        cluster_domain=domain,
    )


def parse(raw: Any, domain: str = "cluster.local") -> tuple[DnsZonesArgs | None, Problems]:
    problems = Problems()
    return parse_dns(raw, ctx(domain), problems), problems


def errors(raw: Any, **kw: Any) -> dict[str, str]:
    args, problems = parse(raw, **kw)
    assert args is None and problems.errors, "expected errors"
    out: dict[str, str] = {}
    for p in problems.errors:
        assert p.key not in out, f"two errors for {p.key}"
        out[p.key] = p.message
    return out


EXAMPLE = {
    "zones": [
        {"name": "k8s.intra", "records": {"echo": "172.17.0.2", "grafana": {"service": "monitoring/grafana"}}},
        {"name": "lab.intra", "type": "file", "records": {"nas": "192.168.2.5"}},
    ],
    "forward": {"home.lan": "192.168.2.1"},
}


def test_example_section() -> None:
    args, problems = parse(EXAMPLE)
    assert not problems.errors and not problems.warnings
    assert args == DnsZonesArgs(
        zones=(
            Zone("k8s.intra", {"echo": "172.17.0.2", "grafana": ServiceRef("monitoring", "grafana")}),
            Zone("lab.intra", {"nas": "192.168.2.5"}, type="file"),
        ),
        forwards=(ForwardZone("home.lan", ("192.168.2.1",)),),
        cluster_domain="cluster.local",
    )


def test_absent_section_is_no_component() -> None:
    args, problems = parse(None)
    assert args is None and not problems.errors


def test_cluster_domain_comes_from_the_context() -> None:
    args, _ = parse({"zones": [{"name": "k8s.intra"}]}, domain="lab.local")
    assert args is not None and args.cluster_domain == "lab.local"


def test_full_names_land_in_their_zone() -> None:
    args, problems = parse(
        {
            "zones": [{"name": "k8s.intra", "records": {"echo": "172.17.0.2"}}, {"name": "lab.intra", "type": "file"}],
            "records": {
                "k8s.intra": "192.168.2.240",
                "web.k8s.intra": "192.168.2.241",
                "*.apps.lab.intra": "192.168.2.242",
            },
        }
    )
    assert not problems.errors
    assert args is not None
    assert dict(args.zones[0].records) == {"echo": "172.17.0.2", "@": "192.168.2.240", "web": "192.168.2.241"}
    assert dict(args.zones[1].records) == {"*.apps": "192.168.2.242"}


def test_record_outside_every_zone() -> None:
    errs = errors({"zones": [{"name": "k8s.intra"}], "records": {"echo.k8s.intrx": "172.17.0.2"}})
    assert list(errs) == ["homelab:dns.records[echo.k8s.intrx]"]
    assert "outside every zone (k8s.intra)" in errs["homelab:dns.records[echo.k8s.intrx]"]


def test_record_outside_when_there_are_no_zones() -> None:
    errs = errors({"records": {"echo.k8s.intra": "172.17.0.2"}})
    assert "outside every zone (none defined)" in errs["homelab:dns.records[echo.k8s.intra]"]


def test_record_inside_a_forward_zone() -> None:
    errs = errors({"forward": {"home.lan": "192.168.2.1"}, "records": {"nas.home.lan": "192.168.2.5"}})
    assert "inside forward zone home.lan" in errs["homelab:dns.records[nas.home.lan]"]


def test_a_name_defined_twice() -> None:
    errs = errors(
        {"zones": [{"name": "k8s.intra", "records": {"echo": "172.17.0.2"}}], "records": {"echo.k8s.intra": "1.2.3.4"}}
    )
    assert errs == {
        "homelab:dns.records[echo.k8s.intra]": "echo.k8s.intra is already defined at homelab:dns.zones[0].records[echo]"
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("K8s.intra", "lowercase"),
        ("k8s.intra.", "trailing dot"),
        ("k8s..intra", "empty label"),
        ("k8s_lab.intra", "may hold only"),
        ("cluster.local", "inside the cluster domain"),
        ("svc.cluster.local", "inside the cluster domain"),
        ("local", "contains the cluster domain"),
        ("in-addr.arpa", "reverse lookups"),
        ("arpa", "reverse lookups"),
        ("192.168.2.1", "IP address"),
        ("", "is empty"),
    ],
)
def test_zone_name_rules(name: str, expected: str) -> None:
    errs = errors({"zones": [{"name": name}]})
    assert expected in errs["homelab:dns.zones[0].name"]


def test_zone_name_rules_follow_the_cluster_domain() -> None:
    assert zone_name_problem("cluster.local", "lab.local") is None
    assert zone_name_problem("x.lab.local", "lab.local") is not None


def test_duplicate_and_nested_zones() -> None:
    errs = errors(
        {
            "zones": [{"name": "k8s.intra"}, {"name": "k8s.intra"}, {"name": "a.k8s.intra"}],
            "forward": {"lab.k8s.intra": "192.168.2.1"},
        }
    )
    assert "listed twice" in errs["homelab:dns.zones[1].name"]
    assert "'a.k8s.intra' lies inside zone 'k8s.intra'" in errs["homelab:dns.zones[2].name"]
    assert "'lab.k8s.intra' lies inside zone 'k8s.intra'" in errs["homelab:dns.forward[lab.k8s.intra]"]


@pytest.mark.parametrize(
    ("zone", "record", "expected"),
    [
        ({"name": "k8s.intra"}, "*", "use `type: file`"),
        ({"name": "k8s.intra"}, "*.apps", "use `type: file`"),
        ({"name": "k8s.intra", "type": "file"}, "a.*", "may hold only"),
        ({"name": "k8s.intra"}, "echo.k8s.intra", "relative"),
        ({"name": "k8s.intra"}, "Echo", "lowercase"),
        ({"name": "k8s.intra"}, "-echo", "may hold only"),
        ({"name": "k8s.intra"}, "a" * 64, "longer than 63"),
    ],
)
def test_record_name_rules(zone: dict[str, Any], record: str, expected: str) -> None:
    errs = errors({"zones": [{**zone, "records": {record: "172.17.0.2"}}]})
    assert expected in errs[f"homelab:dns.zones[0].records[{record}]"]


def test_apex_and_wildcards_where_allowed() -> None:
    assert record_name_problem("@", "k8s.intra", "hosts") is None
    assert record_name_problem("*", "k8s.intra", "file") is None
    assert record_name_problem("*.apps", "k8s.intra", "file") is None
    assert record_name_problem("www.app", "k8s.intra", "hosts") is None


@pytest.mark.parametrize(
    ("value", "key_suffix", "expected"),
    [
        ("300.1.1.1", "", "not an IPv4 address"),
        ("echo.k8s.intra", "", "not an IPv4 address"),
        (42, "", "must be an IPv4 address or {service: namespace/name}"),
        ({"service": "grafana"}, ".service", "namespace/name"),
        ({"service": "Monitoring/grafana"}, ".service", "namespace"),
        ({"service": "monitoring/9grafana"}, ".service", "DNS-1035"),
        ({"svc": "monitoring/grafana"}, ".svc", "unknown setting"),
    ],
)
def test_record_value_rules(value: Any, key_suffix: str, expected: str) -> None:
    errs = errors({"zones": [{"name": "k8s.intra", "records": {"echo": value}}]})
    key = f"homelab:dns.zones[0].records[echo]{key_suffix}"
    assert expected in errs[key], errs


def test_an_address_in_the_dhcp_range_is_a_warning() -> None:
    args, problems = parse({"zones": [{"name": "k8s.intra", "records": {"echo": "192.168.2.150"}}]})
    assert args is not None
    assert [w.key for w in problems.warnings] == ["homelab:dns.zones[0].records[echo]"]
    assert "DHCP range" in problems.warnings[0].message


def test_forward_targets_are_ips() -> None:
    errs = errors({"forward": {"home.lan": ["192.168.2.1", "router.home.lan"], "x.lan": [], "y.lan": ["1.1.1.1"] * 2}})
    assert "forward targets are IPs" in errs["homelab:dns.forward[home.lan][1]"]
    assert "at least one upstream" in errs["homelab:dns.forward[x.lan]"]
    assert "listed twice" in errs["homelab:dns.forward[y.lan]"]


def test_a_forward_target_may_name_its_port() -> None:
    args, problems = parse({"forward": {"home.lan": ["192.168.2.1:5353", "192.168.2.2"]}})
    assert not problems.errors and args is not None
    assert args.forwards[0].upstreams == ("192.168.2.1:5353", "192.168.2.2")
    errs = errors({"forward": {"home.lan": ["192.168.2.1:0", "192.168.2.1:dns"]}})
    assert "IPv4:port" in errs["homelab:dns.forward[home.lan][0]"]
    assert "IPv4:port" in errs["homelab:dns.forward[home.lan][1]"]


def test_forward_takes_at_most_15_upstreams() -> None:
    ups = [f"192.168.2.{i}" for i in range(2, 18)]
    assert "at most 15" in errors({"forward": {"home.lan": ups}})["homelab:dns.forward[home.lan]"]


def test_type_ttl_and_unknown_keys() -> None:
    errs = errors({"zones": [{"name": "k8s.intra", "type": "bind", "ttl": 0, "ns": "x"}], "zone": []})
    assert "hosts, file" in errs["homelab:dns.zones[0].type"]
    assert "between 1 and 65535" in errs["homelab:dns.zones[0].ttl"]
    assert "unknown setting" in errs["homelab:dns.zones[0].ns"]
    assert "unknown setting" in errs["homelab:dns.zone"]


def test_every_problem_is_reported_at_once() -> None:
    errs = errors(
        {
            "zones": [{"name": "K8S", "records": {"a": "x"}}, {"name": "lab.intra", "records": {"*": "1.2.3.4"}}],
            "records": {"nas.nowhere": "192.168.2.5"},
            "forward": {"home.lan": "router"},
        }
    )
    assert set(errs) == {
        "homelab:dns.zones[0].name",
        "homelab:dns.zones[0].records[a]",
        "homelab:dns.zones[1].records[*]",
        "homelab:dns.records[nas.nowhere]",
        "homelab:dns.forward[home.lan]",
    }


# --- the component's own check of its arguments -------------------------------------------------


def test_args_problems_on_a_bad_argument_set() -> None:
    # The model refuses these when it validates; model_construct skips that, as a caller
    # bypassing it would: the component still checks its args itself.
    args = DnsZonesArgs.model_construct(
        zones=(
            Zone.model_construct(name="k8s.intra", records={"*": "1.2.3.4", "echo": "nope"}, type="hosts", ttl=30),
            Zone("k8s.intra"),
            Zone.model_construct(name="x.intra", records={}, type="bind", ttl=30),
        ),
        forwards=(ForwardZone.model_construct(name="home.lan", upstreams=("router",)),),
        cluster_domain="cluster.local",
    )
    problems = args_problems(args)
    assert any("wildcard" in p for p in problems)
    assert any("'nope' is not an IPv4 address" in p for p in problems)
    assert any("listed twice" in p for p in problems)
    assert any("type must be one of" in p for p in problems)
    assert any("upstream 'router' is not an IPv4 address" in p for p in problems)


def test_args_problems_accepts_outputs_as_values() -> None:
    echo = pulumi.Output.from_input("192.168.2.7")
    assert args_problems(DnsZonesArgs(zones=(Zone("k8s.intra", {"echo": echo}),))) == []


def test_the_model_refuses_bad_values_when_built() -> None:
    with pytest.raises(ValueError, match="'nope' is not an IPv4 address"):
        Zone("k8s.intra", {"echo": "nope"})
    with pytest.raises(ValueError, match="the hosts plugin has no wildcard records"):
        Zone("k8s.intra", {"*": "1.2.3.4"})


def test_overlap_reports_the_later_zone() -> None:
    assert overlap_problems(["a.b", "b", "c"]) == [(1, "zone 'a.b' lies inside zone 'b'; merge them into one zone")]
