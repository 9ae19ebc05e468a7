"""Helm values for Cilium in native routing: the flat network, rendered as a plain dict."""

from __future__ import annotations

from typing import Any

from components.network.model import FlatNetworkArgs


def non_masquerade_cidrs(args: FlatNetworkArgs) -> list[str]:
    """Destinations that see a pod's own address: other pods and the LAN.

    Everything else (the internet) is masqueraded to the node address, because a home
    router only NATs its own LAN subnet on the way out.
    """
    cidrs = [args.pod_cidr, args.lan_cidr]
    return list(dict.fromkeys(cidrs))


def render_cilium_values(args: FlatNetworkArgs) -> dict[str, Any]:
    """The complete values document; nothing here mentions a tunnel (native routing only)."""
    values: dict[str, Any] = {
        "routingMode": "native",
        "ipv4NativeRoutingCIDR": args.pod_cidr,
        "autoDirectNodeRoutes": args.auto_direct_node_routes,
        "ipv4": {"enabled": True},
        "ipv6": {"enabled": False},
        # kube-controller-manager allocates each Node's spec.podCIDR (kubeadm's podSubnet).
        "ipam": {"mode": "kubernetes"},
        "k8s": {"requireIPv4PodCIDR": True},
        # A boolean since 1.14; the old "strict" string is refused by the 1.16+ chart.
        "kubeProxyReplacement": True,
        "k8sServiceHost": args.api_host,
        "k8sServicePort": args.api_port,
        # eBPF masquerade with ip-masq-agent semantics: pods keep their address towards the
        # LAN and other pods, and are NATed to the node address towards everything else.
        "enableIPv4Masquerade": True,
        "bpf": {"masquerade": True, "lbExternalClusterIP": args.expose_cluster_ips},
        "ipMasqAgent": {
            "enabled": True,
            "config": {"nonMasqueradeCIDRs": non_masquerade_cidrs(args), "masqLinkLocal": False},
        },
        # SNAT (not DSR): a reply to a LoadBalancer IP leaves through the node that MetalLB
        # announces, so LAN clients see it come from the MAC they ARPed (cilium#12895).
        "loadBalancer": {"mode": "snat"},
        # MetalLB answers ARP for LoadBalancer IPs; Cilium must not compete.
        "l2announcements": {"enabled": False},
        "bgpControlPlane": {"enabled": args.bgp is not None},
        "dnsProxy": {
            "minTtl": args.dns_proxy.min_ttl,
            "endpointMaxIpPerHostname": args.dns_proxy.max_ips_per_hostname,
            "dnsRejectResponseCode": args.dns_proxy.reject_response_code,
        },
        # Multus writes its own CNI config next to Cilium's; exclusive mode would rename it away.
        "cni": {"exclusive": args.lan_attachment is None},
        "operator": {"replicas": args.operator_replicas},
    }
    return values
