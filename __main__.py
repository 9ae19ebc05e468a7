"""The home lab, composed: settings first, then each component in order, then outputs."""

from __future__ import annotations

import pulumi

from components.cluster.component import KubeadmCluster
from components.loadbalancer import LoadBalancer
from components.network import FlatNetwork
from components.validation import ConfigError
from lab.settings import load

try:
    settings = load()
except ConfigError as err:
    # Nothing is registered: the whole list of problems, then stop.
    raise pulumi.RunError(str(err)) from None
for warning in settings.warnings:
    pulumi.log.warn(str(warning))

cluster = KubeadmCluster(settings.cluster.name, settings.cluster)
on_cluster = pulumi.ResourceOptions(provider=cluster.provider, depends_on=[cluster])

network = FlatNetwork("network", settings.network, opts=on_cluster)
# MetalLB's pods need the CNI running first.
after_network = pulumi.ResourceOptions(provider=cluster.provider, depends_on=[network])
load_balancer = (
    LoadBalancer("loadbalancer", settings.load_balancer, opts=after_network) if settings.load_balancer else None
)

pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("apiEndpoint", cluster.api_endpoint)
pulumi.export("caCertificate", cluster.ca_certificate)
pulumi.export("nodes", cluster.nodes)
pulumi.export("cilium", {"release": network.release_name, "namespace": network.namespace})
pulumi.export("bgpEnabled", network.bgp_enabled)
pulumi.export("routerRoutes", network.router_routes)
pulumi.export("lanAttachment", network.lan_attachment)
if load_balancer is not None:
    pulumi.export("loadBalancerPools", load_balancer.pools)
