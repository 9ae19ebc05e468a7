"""`homelab:network` → FlatNetworkArgs: the model's own checks, then the rules against the lab.

The section (components.network.model.FlatNetworkSection) says what the stack may write;
the LAN, the gateway, the nodes and the cluster's CIDRs come from the other sections.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from components.loadbalancer.validation import check_range_conflicts, check_range_in_lan
from components.model import parse
from components.network.model import NODE_CIDR_MASK, FlatNetworkArgs, FlatNetworkSection, NodeAddress
from components.validation import IPRange, Problems
from lab.context import LabContext

KEY = "homelab:network"


def _ordered_nodes(ctx: LabContext, control_planes: Sequence[str]) -> tuple[NodeAddress, ...]:
    """Join order as far as it is known: the first control plane (kubeadm init), the others, then workers."""
    names = list(ctx.node_addresses)
    cps = [n for n in control_planes if n in ctx.node_addresses]
    ordered = cps + [n for n in names if n not in cps]
    return tuple(NodeAddress(n, str(ctx.node_addresses[n])) for n in ordered)


def _sub(raw: Any, name: str) -> Mapping[str, Any]:
    value = raw.get(name) if isinstance(raw, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def check_against_lab(raw: Any, ctx: LabContext, problems: Problems) -> None:
    """What the section's values mean for the rest of the lab, read leniently from the raw
    section so these run even when the model refused something else: all problems at once."""
    for name in ("bgp", "lanAttachment"):
        sub = _sub(raw, name)
        others = sorted(str(k) for k in sub if k != "enabled")
        if sub.get("enabled", False) is False and others:
            problems.warn(f"{KEY}.{name}.enabled", f"is false: {', '.join(others)} ignored")

    lan = _sub(raw, "lanAttachment")
    if lan.get("enabled") is True:
        try:
            rng = IPRange.parse(str(lan["range"]))
        except (KeyError, ValueError):
            rng = None  # the model reports it
        key = f"{KEY}.lanAttachment.range"
        if rng is not None and check_range_in_lan(rng, ctx.lan, problems, key):
            check_range_conflicts(rng, ctx.reserved(), problems, key)
        # The model says so too, but only once every name is valid.
        names = lan.get("namespaces")
        for i, ns in enumerate(names if isinstance(names, list) else []):
            if isinstance(ns, str) and ns in names[:i]:
                problems.error(f"{KEY}.lanAttachment.namespaces[{i}]", f"{ns} is listed twice")
        if lan.get("ipam") == "host-local":
            problems.warn(
                f"{KEY}.lanAttachment.ipam",
                "host-local keeps allocations per node: two nodes can hand out the same address; "
                "run LAN-attached pods on one node or use static",
            )

    if (
        isinstance(raw, Mapping)
        and raw.get("autoDirectNodeRoutes") is False
        and _sub(raw, "bgp").get("enabled") is not True
    ):
        problems.warn(
            f"{KEY}.autoDirectNodeRoutes",
            "off and no BGP: pod traffic between nodes relies on the router's static routes (output router_routes)",
        )

    if ctx.pod_cidr is not None and ctx.node_addresses:
        prefix = ctx.pod_cidr.prefixlen
        slots = 2 ** (NODE_CIDR_MASK - prefix) if prefix <= NODE_CIDR_MASK else 0
        if slots < len(ctx.node_addresses):
            problems.error(
                "homelab:cluster.podCidr",
                f"{ctx.pod_cidr} holds {slots} node slice(s) of /{NODE_CIDR_MASK} but there are "
                f"{len(ctx.node_addresses)} nodes",
            )


def parse_network(
    raw: Any, ctx: LabContext, problems: Problems, control_planes: Sequence[str] = ()
) -> FlatNetworkArgs | None:
    """Validate `homelab:network` (every key optional) against the LAN and the cluster.

    `control_planes`: control-plane node names, first (the kubeadm init node) first; it only
    orders the predicted router routes. None when this section or one it depends on is invalid.
    """
    before = len(problems.errors)
    section = parse(FlatNetworkSection, raw, KEY, problems, context={"lab": ctx})
    check_against_lab(raw, ctx, problems)
    if section is None or len(problems.errors) > before:
        return None
    if ctx.pod_cidr is None or ctx.lan is None or ctx.endpoint is None or not ctx.node_addresses:
        return None  # the cluster/lan sections already reported why
    lan = section.lan_attachment
    if lan.enabled and ctx.gateway is None:
        return None  # the lan section already reported why
    return FlatNetworkArgs(
        pod_cidr=str(ctx.pod_cidr),
        lan_cidr=str(ctx.lan),
        api_host=str(ctx.endpoint),
        api_port=ctx.api_port,
        nodes=_ordered_nodes(ctx, control_planes),
        service_cidr=str(ctx.service_cidr) if ctx.service_cidr is not None else None,
        auto_direct_node_routes=section.auto_direct_node_routes,
        expose_cluster_ips=section.expose_cluster_ips,
        bgp=section.bgp.peering(),
        lan_attachment=lan.attachment(str(ctx.lan), str(ctx.gateway)),
        dns_proxy=section.dns_proxy,
        chart=section.chart,
        node_cidr_mask=NODE_CIDR_MASK,
        skip_await=section.skip_await,
    )
