"""`homelab:loadBalancer` → LoadBalancerArgs: the model's own checks, then the rules against the lab."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.loadbalancer.model import LoadBalancerArgs
from components.loadbalancer.validation import check_pool_conflicts, check_pools_in_lan
from components.model import parse
from components.network.model import FlatNetworkArgs
from components.validation import IPRange, Problems
from lab.context import LabContext

KEY = "homelab:loadBalancer"


def reserved_for_pools(ctx: LabContext, network: FlatNetworkArgs | None) -> list[tuple[str, IPRange]]:
    """ctx.reserved() plus the macvlan LAN attachment's range when there is one."""
    reserved = ctx.reserved()
    if network is not None and network.lan_attachment is not None:
        rng = IPRange.parse(network.lan_attachment.range)
        reserved.append(("the LAN attachment range (homelab:network.lanAttachment.range)", rng))
    return reserved


def _ranges(raw: Any) -> list[tuple[str, list[IPRange | None]]]:
    """Each pool's ranges read leniently from the raw section (None where one doesn't parse),
    so the LAN rules run even when the model refused something else: all problems at once."""
    pools = raw.get("pools") if isinstance(raw, Mapping) else None
    out: list[tuple[str, list[IPRange | None]]] = []
    for i, pool in enumerate(pools if isinstance(pools, list) else []):
        pool = pool if isinstance(pool, Mapping) else {}
        addresses = pool.get("addresses")
        ranges: list[IPRange | None] = []
        for text in addresses if isinstance(addresses, list) else []:
            try:
                ranges.append(IPRange.parse(str(text)))
            except ValueError:
                ranges.append(None)  # the model reports it
        out.append((str(pool.get("name") or f"pools[{i}]"), ranges))
    return out


def check_against_lab(raw: Any, ctx: LabContext, network: FlatNetworkArgs | None, problems: Problems) -> None:
    """Pools inside the LAN, clear of what is reserved and of each other; MetalLB BGP vs Cilium's."""
    if isinstance(raw, Mapping) and raw.get("mode") == "bgp" and network is not None and network.bgp is not None:
        problems.error(
            f"{KEY}.mode",
            "bgp conflicts with homelab:network.bgp.enabled: Cilium's BGP control plane already peers "
            f"with {network.bgp.peer_address} from every node and advertises LoadBalancer IPs; a MetalLB "
            "session from the same node addresses would be a second neighbour the router cannot tell apart. "
            "Set homelab:loadBalancer.mode: l2 and let Cilium announce "
            "(homelab:network.bgp.advertiseLoadBalancerIps)",
        )
    mode = raw.get("mode", "l2") if isinstance(raw, Mapping) else "l2"
    if isinstance(raw, Mapping) and "bgp" in raw and mode != "bgp":
        problems.error(f"{KEY}.bgp", f"is only used with mode: bgp (mode is {mode})")
    if isinstance(raw, Mapping) and raw.get("bgp") is None and mode == "bgp":
        problems.error(f"{KEY}.bgp", "is required when mode is bgp")  # also when the model failed elsewhere
    if isinstance(raw, Mapping) and raw.get("pools") == []:
        problems.error(f"{KEY}.pools", "needs at least one pool")
    pools = _ranges(raw)
    seen: dict[str, int] = {}
    for i, (name, _) in enumerate(pools):
        if name in seen:
            problems.error(f"{KEY}.pools[{i}].name", f"{name} is already the name of {KEY}.pools[{seen[name]}]")
        seen.setdefault(name, i)
    check_pools_in_lan(pools, ctx.lan, problems, f"{KEY}.pools")
    # A range outside the LAN already has its error; comparing it further only adds noise.
    in_lan = [
        (n, [r if r is not None and (ctx.lan is None or r.within(ctx.lan)) else None for r in rs]) for n, rs in pools
    ]
    check_pool_conflicts(in_lan, reserved_for_pools(ctx, network), problems, f"{KEY}.pools")


def parse_load_balancer(
    raw: Any, ctx: LabContext, problems: Problems, network: FlatNetworkArgs | None = None
) -> LoadBalancerArgs | None:
    """Validate `homelab:loadBalancer`; None when the section is absent (no MetalLB) or invalid.

    `network` (parse_network's result) adds the LAN attachment range to what pools must
    avoid, and refuses MetalLB BGP next to Cilium's BGP.
    """
    if raw is None:
        return None
    before = len(problems.errors)
    args = parse(LoadBalancerArgs, raw, KEY, problems, context={"lab": ctx})
    check_against_lab(raw, ctx, network, problems)
    return args if len(problems.errors) == before else None
