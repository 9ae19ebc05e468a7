"""`homelab:network` → FlatNetworkArgs (Cilium, BGP, LAN attachment, DNS proxy)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from components.loadbalancer.validation import check_range_conflicts, check_range_in_lan
from components.network.model import (
    CILIUM_REPO,
    BgpPeering,
    CiliumChart,
    DnsProxyTunables,
    FlatNetworkArgs,
    LanAttachment,
    NodeAddress,
)
from components.validation import DNS1123_LABEL, IPRange, Problems, parse_ip, parse_range
from components.versions import CILIUM_VERSION
from lab.context import LabContext, Section

KEY = "homelab:network"
# What the lead's settings loader passes on to parse_load_balancer.
NetworkSettings = FlatNetworkArgs

MAX_ASN = 4294967295
IFNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")  # Linux IFNAMSIZ
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
REJECT_CODES = ("refused", "nameError")
NODE_CIDR_MASK = 24  # kube-controller-manager's default --node-cidr-mask-size, which kubeadm keeps


def _ordered_nodes(ctx: LabContext, control_planes: Sequence[str]) -> tuple[NodeAddress, ...]:
    """Join order as far as it is known: the first control plane (kubeadm init), the others, then workers."""
    names = list(ctx.node_addresses)
    cps = [n for n in control_planes if n in ctx.node_addresses]
    ordered = cps + [n for n in names if n not in cps]
    return tuple(NodeAddress(n, str(ctx.node_addresses[n])) for n in ordered)


def _warn_ignored(section: Section) -> None:
    others = sorted(str(k) for k in section.raw if k != "enabled")
    if others:
        section.problems.warn(section.sub("enabled"), f"is false: {', '.join(others)} ignored")


def _parse_bgp(s: Section, ctx: LabContext, problems: Problems) -> BgpPeering | None:
    b = Section(s.raw.get("bgp"), s.sub("bgp"), problems)
    b.unknown(
        {
            "enabled",
            "localAsn",
            "peerAsn",
            "peerAddress",
            "nodeSelector",
            "advertisePodCidr",
            "advertiseLoadBalancerIps",
        }
    )
    if not b.bool("enabled", False):
        _warn_ignored(b)
        return None
    local_asn = b.int("localAsn", lo=1, hi=MAX_ASN)
    peer_asn = b.int("peerAsn", lo=1, hi=MAX_ASN)
    for name, value in (("localAsn", local_asn), ("peerAsn", peer_asn)):
        if value is None and name not in b.raw:
            problems.error(b.sub(name), "is required when BGP is enabled")
    default_peer = str(ctx.gateway) if ctx.gateway is not None else None
    peer_text = b.str("peerAddress", default_peer, required=True)
    peer = parse_ip(peer_text, b.sub("peerAddress"), problems) if peer_text is not None else None
    selector: dict[str, str] = {}
    for k, v in b.mapping("nodeSelector").items():
        if not isinstance(k, str) or not LABEL_KEY.match(k):
            problems.error(b.sub(f"nodeSelector.{k}"), f"{k!r} is not a valid label key")
        elif not isinstance(v, str) or not LABEL_VALUE.match(v):
            problems.error(b.sub(f"nodeSelector.{k}"), f"{v!r} is not a valid label value (quote numbers)")
        else:
            selector[k] = v
    pod_cidr = b.bool("advertisePodCidr", True)
    lb_ips = b.bool("advertiseLoadBalancerIps", True)
    if local_asn is None or peer_asn is None or peer is None:
        return None
    return BgpPeering(
        local_asn=local_asn,
        peer_asn=peer_asn,
        peer_address=str(peer),
        node_selector=selector,
        advertise_pod_cidr=pod_cidr,
        advertise_load_balancer_ips=lb_ips,
    )


def _parse_lan_attachment(s: Section, ctx: LabContext, problems: Problems) -> LanAttachment | None:
    a = Section(s.raw.get("lanAttachment"), s.sub("lanAttachment"), problems)
    a.unknown({"enabled", "interface", "range", "namespaces", "name", "ipam"})
    if not a.bool("enabled", False):
        _warn_ignored(a)
        return None
    ok = True
    interface = a.str("interface", required=True)
    if interface is not None and not IFNAME.match(interface):
        problems.error(a.sub("interface"), f"{interface!r} is not a network interface name (at most 15 characters)")
        ok = False
    rng: IPRange | None = None
    if (text := a.str("range", required=True)) is not None:
        rng = parse_range(text, a.sub("range"), problems)
        if rng is not None:
            if check_range_in_lan(rng, ctx.lan, problems, a.sub("range")):
                ok &= check_range_conflicts(rng, ctx.reserved(), problems, a.sub("range"))
            else:
                ok = False
    namespaces: list[str] = []
    raw_ns = a.raw.get("namespaces", ["default"])
    if not isinstance(raw_ns, list) or not raw_ns:
        problems.error(a.sub("namespaces"), "must be a non-empty list of namespace names")
        ok = False
    else:
        for i, ns in enumerate(raw_ns):
            if not isinstance(ns, str) or not DNS1123_LABEL.match(ns):
                problems.error(a.sub(f"namespaces[{i}]"), f"{ns!r} is not a namespace name")
                ok = False
            elif ns in namespaces:
                problems.error(a.sub(f"namespaces[{i}]"), f"{ns} is listed twice")
                ok = False
            else:
                namespaces.append(ns)
    name = a.str("name", "lan") or "lan"
    if not DNS1123_LABEL.match(name):
        problems.error(a.sub("name"), f"{name!r} is not a valid NetworkAttachmentDefinition name")
        ok = False
    ipam = a.str("ipam", "static") or "static"
    if ipam not in ("static", "host-local"):
        problems.error(a.sub("ipam"), f"must be static or host-local, got {ipam!r}")
        ok = False
    elif ipam == "host-local":
        problems.warn(
            a.sub("ipam"),
            "host-local keeps allocations per node: two nodes can hand out the same address; "
            "run LAN-attached pods on one node or use static",
        )
    if not ok or interface is None or rng is None or ctx.lan is None or ctx.gateway is None:
        return None
    return LanAttachment(
        interface=interface,
        range=f"{rng.first}-{rng.last}",
        lan_cidr=str(ctx.lan),
        gateway=str(ctx.gateway),
        namespaces=tuple(namespaces),
        network_name=name,
        ipam=ipam,  # type: ignore[arg-type]  # checked above
    )


def _parse_dns_proxy(s: Section, problems: Problems) -> DnsProxyTunables:
    d = Section(s.raw.get("dnsProxy"), s.sub("dnsProxy"), problems)
    d.unknown({"minTtl", "maxIpsPerHostname", "rejectResponseCode"})
    default = DnsProxyTunables()
    min_ttl = d.int("minTtl", default.min_ttl, lo=0, hi=604800)
    max_ips = d.int("maxIpsPerHostname", default.max_ips_per_hostname, lo=1, hi=10000)
    code = d.str("rejectResponseCode", default.reject_response_code) or default.reject_response_code
    if code not in REJECT_CODES:
        problems.error(d.sub("rejectResponseCode"), f"must be one of {', '.join(REJECT_CODES)}, got {code!r}")
        code = default.reject_response_code
    return DnsProxyTunables(
        min_ttl=default.min_ttl if min_ttl is None else min_ttl,
        max_ips_per_hostname=default.max_ips_per_hostname if max_ips is None else max_ips,
        reject_response_code=code,  # type: ignore[arg-type]  # checked above
    )


def _parse_chart(s: Section, problems: Problems) -> CiliumChart:
    c = Section(s.raw.get("chart"), s.sub("chart"), problems)
    c.unknown({"path", "repo", "version"})
    path = c.str("path")
    repo = c.str("repo")
    version = c.str("version")
    if path is not None and (repo is not None or version is not None):
        problems.error(c.sub("path"), "a local chart path takes no repo or version; set one or the other")
    if path is not None:
        return CiliumChart(path=path)
    return CiliumChart(repo=repo or CILIUM_REPO, version=version or CILIUM_VERSION)


def parse_network(
    raw: Any, ctx: LabContext, problems: Problems, control_planes: Sequence[str] = ()
) -> FlatNetworkArgs | None:
    """Validate `homelab:network` (every key optional) against the LAN and the cluster.

    `control_planes`: control-plane node names, first (the kubeadm init node) first; it only
    orders the predicted router routes. None when this section or one it depends on is invalid.
    """
    errors_before = len(problems.errors)
    s = Section(raw, KEY, problems)
    s.unknown({"autoDirectNodeRoutes", "exposeClusterIps", "bgp", "lanAttachment", "dnsProxy", "chart", "skipAwait"})
    direct = s.bool("autoDirectNodeRoutes", True)
    expose = s.bool("exposeClusterIps", True)
    skip_await = s.bool("skipAwait", False)
    bgp = _parse_bgp(s, ctx, problems)
    lan_attachment = _parse_lan_attachment(s, ctx, problems)
    dns = _parse_dns_proxy(s, problems)
    chart = _parse_chart(s, problems)

    if not direct and bgp is None:
        problems.warn(
            s.sub("autoDirectNodeRoutes"),
            "off and no BGP: pod traffic between nodes relies on the router's static routes (output router_routes)",
        )
    if ctx.pod_cidr is not None and ctx.node_addresses:
        slots = 2 ** max(NODE_CIDR_MASK - ctx.pod_cidr.prefixlen, 0) if ctx.pod_cidr.prefixlen <= NODE_CIDR_MASK else 0
        if slots < len(ctx.node_addresses):
            problems.error(
                "homelab:cluster.podCidr",
                f"{ctx.pod_cidr} holds {slots} node slice(s) of /{NODE_CIDR_MASK} but there are "
                f"{len(ctx.node_addresses)} nodes",
            )
            return None
    if len(problems.errors) > errors_before:
        return None
    if ctx.pod_cidr is None or ctx.lan is None or ctx.endpoint is None or not ctx.node_addresses:
        return None  # the cluster/lan sections already reported why
    return FlatNetworkArgs(
        pod_cidr=str(ctx.pod_cidr),
        lan_cidr=str(ctx.lan),
        api_host=str(ctx.endpoint),
        api_port=ctx.api_port,
        nodes=_ordered_nodes(ctx, control_planes),
        service_cidr=str(ctx.service_cidr) if ctx.service_cidr is not None else None,
        auto_direct_node_routes=direct,
        expose_cluster_ips=expose,
        bgp=bgp,
        lan_attachment=lan_attachment,
        dns_proxy=dns,
        chart=chart,
        node_cidr_mask=NODE_CIDR_MASK,
        skip_await=skip_await,
    )
