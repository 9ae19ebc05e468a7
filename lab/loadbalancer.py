"""`homelab:loadBalancer` → LoadBalancerArgs (MetalLB pools and how they are announced)."""

from __future__ import annotations

from typing import Any

from components.loadbalancer.model import (
    METALLB_REPO,
    AddressPool,
    BgpSession,
    LoadBalancerArgs,
    MetalLbChart,
)
from components.loadbalancer.validation import check_pool_conflicts, check_pools_in_lan, metallb_address
from components.network.model import FlatNetworkArgs
from components.validation import DNS1123_LABEL, IPRange, Problems, parse_ip, parse_range
from components.versions import METALLB_VERSION
from lab.context import LabContext, Section
from lab.network import IFNAME, MAX_ASN

KEY = "homelab:loadBalancer"
MODES = ("l2", "bgp")


def reserved_for_pools(ctx: LabContext, network: FlatNetworkArgs | None) -> list[tuple[str, IPRange]]:
    """ctx.reserved() plus the macvlan LAN attachment's range when there is one."""
    reserved = ctx.reserved()
    if network is not None and network.lan_attachment is not None:
        rng = IPRange.parse(network.lan_attachment.range)
        reserved.append(("the LAN attachment range (homelab:network.lanAttachment.range)", rng))
    return reserved


Parsed = tuple[str, list[tuple[IPRange | None, str]], bool]  # name, [(range or None, text)], autoAssign


def _parse_pools(s: Section, problems: Problems) -> list[Parsed]:
    """Every pool with its ranges; an entry that doesn't parse is reported and kept as None."""
    if "pools" not in s.raw:
        problems.error(s.sub("pools"), "is required: at least one pool of LAN addresses outside the DHCP range")
    raw_pools = s.list("pools")
    if not raw_pools and "pools" in s.raw:
        problems.error(s.sub("pools"), "needs at least one pool")
    out: list[Parsed] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_pools):
        p = Section(raw, s.sub(f"pools[{i}]"), problems)
        p.unknown({"name", "addresses", "autoAssign"})
        name = p.str("name", required=True)
        if name is not None:
            if not DNS1123_LABEL.match(name):
                problems.error(p.sub("name"), f"{name!r} is not a valid pool name (lowercase letters, digits, '-')")
            elif name in seen:
                problems.error(p.sub("name"), f"{name} is already the name of {s.sub(f'pools[{seen[name]}]')}")
            else:
                seen[name] = i
        auto = p.bool("autoAssign", True)
        addresses = p.list("addresses")
        if not addresses:
            problems.error(p.sub("addresses"), "needs at least one address range (`a-b` or a CIDR)")
        ranges = [
            (parse_range(text, p.sub(f"addresses[{j}]"), problems), str(text)) for j, text in enumerate(addresses)
        ]
        out.append((name or f"pools[{i}]", ranges, auto))
    return out


def _parse_bgp(s: Section, ctx: LabContext, problems: Problems) -> BgpSession | None:
    b = Section(s.raw.get("bgp"), s.sub("bgp"), problems)
    b.unknown({"myAsn", "peerAsn", "peerAddress"})
    my_asn = b.int("myAsn", lo=1, hi=MAX_ASN)
    peer_asn = b.int("peerAsn", lo=1, hi=MAX_ASN)
    for name, value in (("myAsn", my_asn), ("peerAsn", peer_asn)):
        if value is None and name not in b.raw:
            problems.error(b.sub(name), "is required when mode is bgp")
    default_peer = str(ctx.gateway) if ctx.gateway is not None else None
    text = b.str("peerAddress", default_peer, required=True)
    peer = parse_ip(text, b.sub("peerAddress"), problems) if text is not None else None
    if my_asn is None or peer_asn is None or peer is None:
        return None
    return BgpSession(my_asn=my_asn, peer_asn=peer_asn, peer_address=str(peer))


def _parse_chart(s: Section, problems: Problems) -> MetalLbChart:
    c = Section(s.raw.get("chart"), s.sub("chart"), problems)
    c.unknown({"path", "repo", "version"})
    path, repo, version = c.str("path"), c.str("repo"), c.str("version")
    if path is not None and (repo is not None or version is not None):
        problems.error(c.sub("path"), "a local chart path takes no repo or version; set one or the other")
    if path is not None:
        return MetalLbChart(path=path)
    return MetalLbChart(repo=repo or METALLB_REPO, version=version or METALLB_VERSION)


def parse_load_balancer(
    raw: Any, ctx: LabContext, problems: Problems, network: FlatNetworkArgs | None = None
) -> LoadBalancerArgs | None:
    """Validate `homelab:loadBalancer`; None when the section is absent (no MetalLB) or invalid.

    `network` (parse_network's result) adds the LAN attachment range to what pools must
    avoid, and refuses MetalLB BGP next to Cilium's BGP.
    """
    if raw is None:
        return None
    errors_before = len(problems.errors)
    s = Section(raw, KEY, problems)
    s.unknown({"pools", "mode", "bgp", "interfaces", "chart", "skipAwait"})

    mode = s.str("mode", "l2") or "l2"
    if mode not in MODES:
        problems.error(s.sub("mode"), f"must be one of {', '.join(MODES)}, got {mode!r}")
    bgp: BgpSession | None = None
    if mode == "bgp":
        if network is not None and network.bgp is not None:
            problems.error(
                s.sub("mode"),
                "bgp conflicts with homelab:network.bgp.enabled: Cilium's BGP control plane already peers "
                f"with {network.bgp.peer_address} from every node and advertises LoadBalancer IPs; a MetalLB "
                "session from the same node addresses would be a second neighbour the router cannot tell apart. "
                "Set homelab:loadBalancer.mode: l2 and let Cilium announce "
                "(homelab:network.bgp.advertiseLoadBalancerIps)",
            )
        else:
            bgp = _parse_bgp(s, ctx, problems)
    elif "bgp" in s.raw:
        problems.error(s.sub("bgp"), f"is only used with mode: bgp (mode is {mode})")

    interfaces: list[str] = []
    for i, name in enumerate(s.list("interfaces")):
        if not isinstance(name, str) or not IFNAME.match(name):
            problems.error(s.sub(f"interfaces[{i}]"), f"{name!r} is not a network interface name")
        else:
            interfaces.append(name)

    parsed = _parse_pools(s, problems)
    pools_key = s.sub("pools")
    ranges_only = [(name, [r for r, _ in ranges]) for name, ranges, _ in parsed]
    check_pools_in_lan(ranges_only, ctx.lan, problems, pools_key)
    # A range outside the LAN already has its error; comparing it further only adds noise.
    in_lan = [
        (name, [r if r is not None and (ctx.lan is None or r.within(ctx.lan)) else None for r in ranges])
        for name, ranges in ranges_only
    ]
    check_pool_conflicts(in_lan, reserved_for_pools(ctx, network), problems, pools_key)

    chart = _parse_chart(s, problems)
    skip_await = s.bool("skipAwait", False)
    if len(problems.errors) > errors_before:
        return None
    pools = tuple(
        AddressPool(
            name=name, addresses=tuple(metallb_address(r, t) for r, t in ranges if r is not None), auto_assign=auto
        )
        for name, ranges, auto in parsed
    )
    return LoadBalancerArgs(
        pools=pools,
        mode=mode,  # type: ignore[arg-type]  # checked above
        bgp=bgp,
        interfaces=tuple(interfaces),
        chart=chart,
        skip_await=skip_await,
    )
