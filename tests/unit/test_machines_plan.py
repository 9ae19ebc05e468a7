"""Local machines: names, roles, addresses and argument checks (tools/machine_plan.py)."""

from __future__ import annotations

import ipaddress

import pytest

from tools.machine_plan import (
    MachineSpec,
    PlanError,
    default_control_planes,
    overlapping_routes,
    parse_network,
    plan,
    reconcile,
)

NET = parse_network("hlbr0", "10.251.0.0/24")


def test_three_nodes_are_two_control_planes_and_a_worker() -> None:
    assert [(m.name, m.role, m.address) for m in plan(NET, 3)] == [
        ("cp01", "control-plane", "10.251.0.11"),
        ("cp02", "control-plane", "10.251.0.12"),
        ("worker01", "worker", "10.251.0.13"),
    ]


@pytest.mark.parametrize(("nodes", "cps"), [(1, 1), (2, 1), (3, 2), (7, 2)])
def test_default_control_planes(nodes: int, cps: int) -> None:
    assert default_control_planes(nodes) == cps
    assert sum(m.role == "control-plane" for m in plan(NET, nodes)) == cps


def test_explicit_control_planes_and_addresses_follow_the_subnet() -> None:
    net = parse_network("labx", "172.30.8.0/22")
    machines = plan(net, 5, 3)
    assert [m.name for m in machines] == ["cp01", "cp02", "cp03", "worker01", "worker02"]
    assert [m.address for m in machines] == [f"172.30.8.{i}" for i in range(11, 16)]
    assert str(net.gateway) == "172.30.8.1"
    addrs = {ipaddress.ip_address(m.address) for m in machines}
    lo, hi = (ipaddress.ip_address(x) for x in net.dhcp_range.split("-"))
    assert not any(lo <= a <= hi for a in addrs)  # a real router's DHCP range stays clear
    pool_lo = ipaddress.ip_address(net.lb_pool.split("-")[0])
    assert all(a < pool_lo for a in addrs) and hi < pool_lo


@pytest.mark.parametrize(
    ("bridge", "subnet", "message"),
    [
        ("Hl0", "10.251.0.0/24", "--bridge 'Hl0'"),
        ("averylongbridge", "10.251.0.0/24", "--bridge 'averylongbridge'"),
        ("hlbr0", "8.8.8.0/24", "must be a private range"),
        ("hlbr0", "10.251.0.0/25", "must be a /24 or larger"),
        ("hlbr0", "10.251.0.1/24", "has host bits set"),
        ("hlbr0", "nonsense", "--subnet 'nonsense'"),
    ],
)
def test_bad_network_arguments(bridge: str, subnet: str, message: str) -> None:
    with pytest.raises(PlanError, match=message.replace("/", "/").replace("(", r"\(")):
        parse_network(bridge, subnet)


def test_every_problem_at_once() -> None:
    with pytest.raises(PlanError) as exc:
        parse_network("B", "1.2.3.0/28")
    assert len(exc.value.problems) == 3  # bridge, public, too small
    with pytest.raises(PlanError) as exc:
        plan(NET, 0, 5)
    assert [p.split(" ")[0] for p in exc.value.problems] == ["--nodes", "--control-planes"]
    with pytest.raises(PlanError, match="--nodes 90: must be 1-89"):
        plan(NET, 90)


def test_reconcile_grows_only() -> None:
    three = plan(NET, 3)
    assert reconcile(three, plan(NET, 4)) == [MachineSpec("worker02", "worker", "10.251.0.14")]
    assert reconcile(three, three) == []
    with pytest.raises(PlanError, match="worker01 exists but is not in the plan"):
        reconcile(three, plan(NET, 2, 2))
    with pytest.raises(PlanError, match="worker01 exists as worker 10.251.0.13, the plan has"):
        reconcile(three, plan(NET, 4, 3))


def test_overlapping_routes() -> None:
    routes = [("default", "eth0"), ("192.0.2.0/24", "eth0"), ("10.251.0.0/24", "hlbr0"), ("10.251.0.77", "tun0"),
              ("10.0.0.0/8", "wg0"), ("fe80::/64", "eth0")]  # fmt: skip
    assert overlapping_routes(NET.subnet, routes, "hlbr0") == ["10.251.0.77 dev tun0", "10.0.0.0/8 dev wg0"]
    assert overlapping_routes(ipaddress.IPv4Network("172.31.0.0/24"), routes, "hlbr0") == []
