"""The home lab, composed: settings first, then each component in order, then outputs."""

from __future__ import annotations

import pulumi

from components.cluster.component import KubeadmCluster
from components.dns import DnsZones
from components.egress import EgressPolicies
from components.expiry import certificate_expiry
from components.loadbalancer import LoadBalancer
from components.namespaces import Namespaces
from components.network import FlatNetwork
from components.tls import TlsSecrets
from components.validation import ConfigError
from lab.settings import load

try:
    settings = load()
except ConfigError as err:
    # Nothing is registered: the whole list of problems, then stop.
    raise pulumi.RunError(str(err)) from None
for warning in settings.warnings:
    pulumi.log.warn(str(warning))

cluster = KubeadmCluster(settings.cluster.name, settings.cluster, backup=settings.backup)
# Everything below waits for the cluster through its provider, which waits for the
# kubeconfig and every join. (A depends_on on the component itself would give each
# child an edge to every node's commands: quadratic in the number of nodes.)
on_cluster = pulumi.ResourceOptions(provider=cluster.provider)
# The namespaces that policies, Secrets and LAN attachments are written into: each ensured once.
namespaces = Namespaces("namespaces", settings.namespaces, opts=on_cluster) if settings.namespaces else None
ensured = [namespaces] if namespaces else []
in_namespaces = pulumi.ResourceOptions(provider=cluster.provider, depends_on=ensured)

network = FlatNetwork("network", settings.network, opts=in_namespaces, node_ready=cluster.joined)
# MetalLB's pods need the CNI running first.
after_network = pulumi.ResourceOptions(provider=cluster.provider, depends_on=[network, *ensured])
load_balancer = (
    LoadBalancer("loadbalancer", settings.load_balancer, opts=after_network) if settings.load_balancer else None
)
# CoreDNS rolls out once the CNI runs; records may follow Services that MetalLB serves.
after_services = pulumi.ResourceOptions(
    provider=cluster.provider, depends_on=[network, *([load_balancer] if load_balancer else [])]
)
dns = DnsZones("dns", settings.dns, opts=after_services) if settings.dns else None
# CiliumNetworkPolicy's CRD comes with the Cilium chart.
egress = EgressPolicies("egress", settings.egress, opts=after_network) if settings.egress else None
tls = TlsSecrets("tls", settings.tls, opts=in_namespaces) if settings.tls else None

pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("apiEndpoint", cluster.api_endpoint)
pulumi.export("caCertificate", cluster.ca_certificate)
pulumi.export("nodes", cluster.nodes)
# Read back by the next run (lab.running_version): upgrades go one minor at a time.
pulumi.export("kubernetesVersion", cluster.kubernetes_version)
pulumi.export("certificateExpiry", certificate_expiry(cluster, tls))
pulumi.export("cilium", {"release": network.release_name, "namespace": network.namespace})
pulumi.export("bgpEnabled", network.bgp_enabled)
pulumi.export("routerRoutes", network.router_routes)
pulumi.export("lanAttachment", network.lan_attachment)
if load_balancer is not None:
    pulumi.export("loadBalancerPools", load_balancer.pools)
if dns is not None:
    pulumi.export("dnsRecords", dns.records)
if egress is not None:
    pulumi.export("egressPolicies", egress.policies)
if tls is not None:
    pulumi.export("labCaCertificate", tls.ca_cert_pem)
    pulumi.export("tlsSecrets", tls.secrets)
