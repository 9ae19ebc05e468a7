"""Router routes for routers without BGP: per-node pod CIDR → node, plus the summary route."""

from __future__ import annotations

import pytest

from components.network.model import NodeAddress
from components.network.routes import predict_node_pod_cidrs, router_commands, router_routes

DEV = (NodeAddress("cp01", "192.168.2.11"), NodeAddress("worker01", "192.168.2.21"))
PROD = (
    NodeAddress("cp01", "192.168.2.11"),
    NodeAddress("cp02", "192.168.2.12"),
    NodeAddress("cp03", "192.168.2.13"),
    NodeAddress("worker01", "192.168.2.21"),
    NodeAddress("worker02", "192.168.2.22"),
)


def test_prediction_hands_out_slices_in_join_order() -> None:
    assert predict_node_pod_cidrs("10.244.0.0/16", PROD) == {
        "cp01": "10.244.0.0/24",
        "cp02": "10.244.1.0/24",
        "cp03": "10.244.2.0/24",
        "worker01": "10.244.3.0/24",
        "worker02": "10.244.4.0/24",
    }


def test_prediction_refuses_a_pod_cidr_too_small() -> None:
    with pytest.raises(ValueError, match="no /24 left for node worker01"):
        predict_node_pod_cidrs("10.244.0.0/24", DEV)
    with pytest.raises(ValueError, match="wider than the pod CIDR"):
        predict_node_pod_cidrs("10.244.0.0/25", DEV, mask=24)


def test_known_cidrs_win_over_the_prediction() -> None:
    table = router_routes("10.244.0.0/16", DEV, {"cp01": "10.244.0.0/24", "worker01": "10.244.7.0/24"})
    assert table.routes == [
        {"destination": "10.244.0.0/24", "gateway": "192.168.2.11", "node": "cp01"},
        {"destination": "10.244.7.0/24", "gateway": "192.168.2.21", "node": "worker01"},
    ]
    assert table.predicted == []
    assert "PREDICTED" not in table.commands


def test_unknown_cidrs_are_predicted_and_flagged() -> None:
    table = router_routes("10.244.0.0/16", DEV, {"cp01": "10.244.0.0/24", "worker01": None})
    assert table.routes[1] == {"destination": "10.244.1.0/24", "gateway": "192.168.2.21", "node": "worker01"}
    assert table.predicted == ["worker01"]
    assert "PREDICTED for worker01" in table.commands


def test_summary_route_sends_the_whole_pod_cidr_to_the_first_node() -> None:
    table = router_routes("10.244.0.0/16", PROD)
    assert table.summary == {"destination": "10.244.0.0/16", "gateway": "192.168.2.11", "node": "cp01"}


def test_commands_are_ip_route_lines() -> None:
    table = router_routes(
        "10.244.0.0/16", DEV, {"cp01": "10.244.0.0/24", "worker01": "10.244.1.0/24"}, service_cidr="10.96.0.0/12"
    )
    lines = router_commands(table).splitlines()
    assert "ip route add 10.244.0.0/24 via 192.168.2.11  # cp01" in lines
    assert "ip route add 10.244.1.0/24 via 192.168.2.21  # worker01" in lines
    assert "ip route add 10.96.0.0/12 via 192.168.2.11  # ClusterIPs, entered at cp01" in lines
    assert any(line.startswith("# Or, one route") and "10.244.0.0/16 via 192.168.2.11" in line for line in lines)


def test_no_service_route_without_a_service_cidr() -> None:
    table = router_routes("10.244.0.0/16", DEV)
    assert table.service_route is None
    assert "ClusterIPs" not in table.commands


def test_output_shape() -> None:
    out = router_routes("10.244.0.0/16", DEV).as_output()
    assert set(out) == {"routes", "summary", "serviceRoute", "predicted", "commands"}
    assert all(set(r) == {"destination", "gateway", "node"} for r in out["routes"])
