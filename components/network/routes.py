"""Static routes for a home router that speaks no BGP: each node's pod CIDR via that node.

With `ipam.mode: kubernetes`, kube-controller-manager gives each Node a /`mask` slice of
the pod CIDR (Node.spec.podCIDR) when it registers, in the order it sees the nodes. That
order is only known once the nodes exist, so the routes use the real values when the
caller has them (FlatNetwork reads them from the Node objects) and otherwise a prediction:
slices handed out in join order from the start of the pod CIDR, which is what a fresh
kubeadm cluster whose nodes join one by one gets. A predicted table says so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.network.model import NodeAddress


@dataclass(frozen=True)
class RouterRoutes:
    routes: list[dict[str, str]]  # {destination, gateway, node}
    summary: dict[str, str] | None  # the whole pod CIDR via one node: works before the table is known
    predicted: list[str] = field(default_factory=list)  # nodes whose pod CIDR is a prediction
    service_route: dict[str, str] | None = None

    @property
    def commands(self) -> str:
        return router_commands(self)

    def as_output(self) -> dict[str, Any]:
        return {
            "routes": self.routes,
            "summary": self.summary,
            "serviceRoute": self.service_route,
            "predicted": self.predicted,
            "commands": self.commands,
        }


def predict_node_pod_cidrs(pod_cidr: str, nodes: Sequence[NodeAddress], mask: int = 24) -> dict[str, str]:
    """kube-controller-manager's allocation on a fresh cluster: slice i to the i-th node to join."""
    net = ipaddress.IPv4Network(pod_cidr)
    if mask < net.prefixlen:
        raise ValueError(f"node CIDR mask /{mask} is wider than the pod CIDR {pod_cidr}")
    subnets = net.subnets(new_prefix=mask)
    out: dict[str, str] = {}
    for node in nodes:
        try:
            out[node.name] = str(next(subnets))
        except StopIteration:
            raise ValueError(f"pod CIDR {pod_cidr} has no /{mask} left for node {node.name}") from None
    return out


def router_routes(
    pod_cidr: str,
    nodes: Sequence[NodeAddress],
    node_pod_cidrs: Mapping[str, str | None] | None = None,
    *,
    service_cidr: str | None = None,
    mask: int = 24,
) -> RouterRoutes:
    """Per-node routes, the real CIDR where known and the prediction elsewhere."""
    known = {k: v for k, v in (node_pod_cidrs or {}).items() if v}
    guess = predict_node_pod_cidrs(pod_cidr, nodes, mask)
    routes: list[dict[str, str]] = []
    predicted: list[str] = []
    for node in nodes:
        dest = known.get(node.name)
        if dest is None:
            dest = guess[node.name]
            predicted.append(node.name)
        routes.append({"destination": dest, "gateway": node.address, "node": node.name})
    first = nodes[0] if nodes else None
    summary = {"destination": pod_cidr, "gateway": first.address, "node": first.name} if first else None
    service_route = (
        {"destination": service_cidr, "gateway": first.address, "node": first.name}
        if first is not None and service_cidr
        else None
    )
    return RouterRoutes(routes=routes, summary=summary, predicted=predicted, service_route=service_route)


def router_commands(table: RouterRoutes) -> str:
    """The same table as Linux `ip route` commands (most routers' static-route pages take the same triples)."""
    lines = ["# Static routes for the home router: pod CIDR slice -> the node that owns it."]
    if table.predicted:
        lines.append(
            "# PREDICTED for " + ", ".join(table.predicted) + ": check with "
            "`kubectl get nodes -o custom-columns=NAME:.metadata.name,PODCIDR:.spec.podCIDR`."
        )
    for r in table.routes:
        lines.append(f"ip route add {r['destination']} via {r['gateway']}  # {r['node']}")
    if table.summary is not None:
        s = table.summary
        lines.append(
            f"# Or, one route that needs no table (extra hop, {s['node']} must be up): "
            f"ip route add {s['destination']} via {s['gateway']}"
        )
    if table.service_route is not None:
        s = table.service_route
        lines.append(f"ip route add {s['destination']} via {s['gateway']}  # ClusterIPs, entered at {s['node']}")
    return "\n".join(lines) + "\n"
