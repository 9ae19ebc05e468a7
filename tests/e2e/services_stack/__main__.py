"""homelab's cluster services on an existing API server, as another stack would compose them.

Composition only, from this stack's own config (not homelab's lab/ settings): one
Kubernetes provider from a kubeconfig (a secret, with a stable cluster_identifier), then
FlatNetwork (Cilium from a local chart), LoadBalancer (MetalLB from a local chart),
DnsZones (k8s.intra, patched into kubeadm's CoreDNS) and EgressPolicies (app=net may
reach *.k8s.intra). Nothing waits for pods: the test's API server runs no kubelet.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The components of the checkout this file lives in, not whatever the venv has installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import pulumi  # noqa: E402
import pulumi_kubernetes as k8s  # noqa: E402

from components.dns import DnsZones, DnsZonesArgs, Zone  # noqa: E402
from components.egress import EgressPolicies, EgressPoliciesArgs, EgressPolicy  # noqa: E402
from components.loadbalancer import AddressPool, LoadBalancer, LoadBalancerArgs, MetalLbChart  # noqa: E402
from components.network import CiliumChart, FlatNetwork, FlatNetworkArgs, NodeAddress  # noqa: E402

config = pulumi.Config()
# Read here and wrapped at once: the schema doesn't mark the provider's kubeconfig secret.
kubeconfig = pulumi.Output.secret(Path(config.require("kubeconfigPath")).expanduser().read_text())
records: dict[str, str] = {str(k): str(v) for k, v in (config.get_object("records") or {}).items()}
# MetalLB's validating webhook (failurePolicy Fail) is served by its controller pod. Where no
# pod can run (the test's bare API server), pools and advertisements are refused unless
# the webhook's failures are ignored: the chart's own `crds.validationFailurePolicy`.
webhook_policy = config.get("metallbWebhookFailurePolicy")


def metallb_webhook_policy(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    if webhook_policy is None or args.type_ != "kubernetes:helm.sh/v4:Chart":
        return None
    values = dict(args.props.get("values") or {})
    values["crds"] = {**dict(values.get("crds") or {}), "validationFailurePolicy": webhook_policy}
    return pulumi.ResourceTransformResult({**args.props, "values": values}, args.opts)


provider = k8s.Provider("e2e", kubeconfig=kubeconfig, cluster_identifier="homelab-e2e")
on_cluster = pulumi.ResourceOptions(provider=provider)

network = FlatNetwork(
    "network",
    FlatNetworkArgs(
        pod_cidr="10.244.0.0/16",
        lan_cidr="192.168.2.0/24",
        api_host="192.168.2.11",
        api_port=6443,
        nodes=(NodeAddress("cp01", "192.168.2.11"),),
        service_cidr="10.96.0.0/12",
        chart=CiliumChart(path=config.require("ciliumChart")),
        read_node_pod_cidrs=False,  # no kube-controller-manager: Nodes have no podCIDR
        skip_await=True,
    ),
    opts=on_cluster,
)
after_network = pulumi.ResourceOptions(provider=provider, depends_on=[network])
load_balancer = LoadBalancer(
    "loadbalancer",
    LoadBalancerArgs(
        pools=(AddressPool("lan", ("192.168.2.240-192.168.2.250",)),),
        chart=MetalLbChart(path=config.require("metallbChart")),
        skip_await=True,
    ),
    opts=pulumi.ResourceOptions.merge(after_network, pulumi.ResourceOptions(transforms=[metallb_webhook_policy])),
)
dns = DnsZones(
    "dns",
    DnsZonesArgs(zones=(Zone(name="k8s.intra", records=records),), skip_await=True),
    opts=pulumi.ResourceOptions(provider=provider, depends_on=[network, load_balancer]),
)
egress = EgressPolicies(
    "egress",
    EgressPoliciesArgs(
        policies=(
            EgressPolicy(name="net-to-intra", namespace="default", selector={"app": "net"}, allow=("*.k8s.intra",)),
        )
    ),
    opts=after_network,
)

pulumi.export("loadBalancerPools", load_balancer.pools)
pulumi.export("dnsRecords", dns.records)
pulumi.export("egressPolicies", egress.policies)
