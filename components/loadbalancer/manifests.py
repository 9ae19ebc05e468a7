"""MetalLB's namespace, Helm values and custom resources, rendered as plain dicts.

Field names follow MetalLB's CRDs (config/crd/bases): IPAddressPool, L2Advertisement and
BGPAdvertisement are metallb.io/v1beta1; BGPPeer is metallb.io/v1beta2 (v1beta1 is deprecated).
"""

from __future__ import annotations

from typing import Any

from components.loadbalancer.model import AddressPool, BgpSession, LoadBalancerArgs

API_V1BETA1 = "metallb.io/v1beta1"
API_V1BETA2 = "metallb.io/v1beta2"
ADVERTISEMENT_NAME = "homelab"
PEER_NAME = "router"

# The speaker uses hostNetwork and NET_RAW (ARP): the baseline/restricted levels refuse it.
POD_SECURITY_LABELS = {
    "pod-security.kubernetes.io/enforce": "privileged",
    "pod-security.kubernetes.io/audit": "privileged",
    "pod-security.kubernetes.io/warn": "privileged",
}


def render_namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(POD_SECURITY_LABELS)}}


def render_metallb_values() -> dict[str, Any]:
    return {
        "speaker": {
            # Never answer ARP from the pods' veths (Cilium's lxc*, among others): only from the NICs.
            "excludeInterfaces": {"enabled": True},
            # Native BGP speaker: one IPv4 session needs neither FRR nor frr-k8s.
            "frr": {"enabled": False},
        },
        "frrk8s": {"enabled": False},
    }


def render_address_pool(pool: AddressPool, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": API_V1BETA1,
        "kind": "IPAddressPool",
        "metadata": {"name": pool.name, "namespace": namespace},
        "spec": {"addresses": list(pool.addresses), "autoAssign": pool.auto_assign},
    }


def render_l2_advertisement(
    pools: tuple[AddressPool, ...], namespace: str, interfaces: tuple[str, ...] = ()
) -> dict[str, Any]:
    spec: dict[str, Any] = {"ipAddressPools": [p.name for p in pools]}
    if interfaces:
        spec["interfaces"] = list(interfaces)
    return {
        "apiVersion": API_V1BETA1,
        "kind": "L2Advertisement",
        "metadata": {"name": ADVERTISEMENT_NAME, "namespace": namespace},
        "spec": spec,
    }


def render_bgp_peer(session: BgpSession, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": API_V1BETA2,
        "kind": "BGPPeer",
        "metadata": {"name": PEER_NAME, "namespace": namespace},
        "spec": {"myASN": session.my_asn, "peerASN": session.peer_asn, "peerAddress": session.peer_address},
    }


def render_bgp_advertisement(pools: tuple[AddressPool, ...], namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": API_V1BETA1,
        "kind": "BGPAdvertisement",
        "metadata": {"name": ADVERTISEMENT_NAME, "namespace": namespace},
        "spec": {"ipAddressPools": [p.name for p in pools], "peers": [PEER_NAME]},
    }


def render_custom_resources(args: LoadBalancerArgs) -> list[dict[str, Any]]:
    """Pools, then the L2 advertisement (every mode), then the BGP peer + advertisement (mode bgp)."""
    objs = [render_address_pool(p, args.namespace) for p in args.pools]
    objs.append(render_l2_advertisement(args.pools, args.namespace, args.interfaces))
    if args.mode == "bgp":
        if args.bgp is None:
            raise ValueError("mode bgp needs a BgpSession")
        objs.append(render_bgp_peer(args.bgp, args.namespace))
        objs.append(render_bgp_advertisement(args.pools, args.namespace))
    return objs
