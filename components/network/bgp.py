"""Cilium BGP control plane custom resources (cilium.io/v2, the storage version since 1.18).

Field names follow the v2 CRDs in cilium/cilium pkg/k8s/apis/cilium.io/client/crds/v2/:
v2 dropped `peerConfigRef.group/kind` and `transport.localPort`, so neither appears here.
"""

from __future__ import annotations

from typing import Any

from components.network.model import BgpPeering

API_VERSION = "cilium.io/v2"
NAME = "homelab"
PEER_CONFIG_NAME = "homelab-router"
ADVERTISE_LABEL = "homelab/bgp-advertise"
ADVERTISE_VALUE = "router"
# A Service labelled with this key is left out of the BGP advertisement.
SERVICE_OPT_OUT_LABEL = "homelab/no-bgp-advertisement"


def _cluster_config(bgp: BgpPeering) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "bgpInstances": [
            {
                "name": "home",
                "localASN": bgp.local_asn,
                "peers": [
                    {
                        "name": "router",
                        "peerASN": bgp.peer_asn,
                        "peerAddress": bgp.peer_address,
                        "peerConfigRef": {"name": PEER_CONFIG_NAME},
                    }
                ],
            }
        ],
    }
    if bgp.node_selector:
        spec["nodeSelector"] = {"matchLabels": dict(bgp.node_selector)}
    return {
        "apiVersion": API_VERSION,
        "kind": "CiliumBGPClusterConfig",
        "metadata": {"name": NAME},
        "spec": spec,
    }


def _peer_config() -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "CiliumBGPPeerConfig",
        "metadata": {"name": PEER_CONFIG_NAME},
        "spec": {
            # Keep the router's routes while an agent restarts (rolling upgrades).
            "gracefulRestart": {"enabled": True, "restartTimeSeconds": 120},
            "families": [
                {
                    "afi": "ipv4",
                    "safi": "unicast",
                    "advertisements": {"matchLabels": {ADVERTISE_LABEL: ADVERTISE_VALUE}},
                }
            ],
        },
    }


def service_addresses(bgp: BgpPeering, *, expose_cluster_ips: bool) -> list[str]:
    addresses: list[str] = []
    if bgp.advertise_load_balancer_ips:
        addresses.append("LoadBalancerIP")
    if expose_cluster_ips:
        addresses.append("ClusterIP")
    return addresses


def _advertisement(bgp: BgpPeering, *, expose_cluster_ips: bool) -> dict[str, Any] | None:
    adverts: list[dict[str, Any]] = []
    if bgp.advertise_pod_cidr:
        adverts.append({"advertisementType": "PodCIDR"})
    addresses = service_addresses(bgp, expose_cluster_ips=expose_cluster_ips)
    if addresses:
        adverts.append(
            {
                "advertisementType": "Service",
                "service": {"addresses": addresses},
                # An empty selector selects no Service; this one selects all but the opted-out.
                "selector": {"matchExpressions": [{"key": SERVICE_OPT_OUT_LABEL, "operator": "DoesNotExist"}]},
            }
        )
    if not adverts:
        return None
    return {
        "apiVersion": API_VERSION,
        "kind": "CiliumBGPAdvertisement",
        "metadata": {"name": PEER_CONFIG_NAME, "labels": {ADVERTISE_LABEL: ADVERTISE_VALUE}},
        "spec": {"advertisements": adverts},
    }


def render_bgp_resources(bgp: BgpPeering, *, expose_cluster_ips: bool) -> list[dict[str, Any]]:
    """ClusterConfig, PeerConfig and (when anything is advertised) the Advertisement."""
    objs = [_cluster_config(bgp), _peer_config()]
    advert = _advertisement(bgp, expose_cluster_ips=expose_cluster_ips)
    if advert is not None:
        objs.append(advert)
    return objs
