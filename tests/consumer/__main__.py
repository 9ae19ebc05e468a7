"""lab-consumer: a stack of its own that reuses homelab's components, not homelab's stack.

One machine is the whole cluster (one control plane, no VIP, API at its own address).
It brings its own CNI (Cilium from its chart with upstream defaults: VXLAN overlay and
kube-proxy) instead of homelab's FlatNetwork, and takes only DnsZones and
EgressPolicies from homelab. Nothing here reads homelab's `lab/` settings or stack files.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.component import KubeadmCluster
from components.cluster.model import ClusterSpec, NodeSpec, SshAccess
from components.dns import DnsZones, DnsZonesArgs, ForwardZone, Zone
from components.egress import EgressPolicies, EgressPoliciesArgs, EgressPolicy, Port
from components.versions import CILIUM_VERSION

config = pulumi.Config()
address = config.get("address") or "192.168.50.5"
router = config.get("router") or "192.168.50.1"
ssh = SshAccess(user=config.get("sshUser") or "admin", private_key=config.require_secret("sshPrivateKey"))

cluster = KubeadmCluster(
    "edge",
    ClusterSpec(
        name="edge",
        kubernetes_version="1.34.5",
        nodes=(NodeSpec(name="box", address=address, role="control-plane", ssh=ssh),),
        pod_cidr="10.42.0.0/16",
        service_cidr="10.43.0.0/16",
        endpoint=address,  # no VIP: the API is the machine itself
        vip=False,
        kube_proxy=True,  # this CNI keeps kube-proxy
    ),
)
on_cluster = pulumi.ResourceOptions(provider=cluster.provider, depends_on=[cluster])

# The stack's own CNI; it also installs the CiliumNetworkPolicy CRD the egress policies need.
cni = k8s.helm.v4.Chart(
    "cni",
    chart="cilium",
    version=CILIUM_VERSION,
    repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo="https://helm.cilium.io"),
    namespace="kube-system",
    values={"ipam": {"mode": "kubernetes"}, "operator": {"replicas": 1}},
    opts=on_cluster,
)
after_cni = pulumi.ResourceOptions(provider=cluster.provider, depends_on=[cni])

dns = DnsZones(
    "dns",
    DnsZonesArgs(
        zones=(Zone(name="edge.intra", records={"@": address, "box": address}),),
        forwards=(ForwardZone(name="home.lan", upstreams=(router,)),),
    ),
    # CoreDNS pods start once the CNI runs.
    opts=after_cni,
)
egress = EgressPolicies(
    "egress",
    EgressPoliciesArgs(
        policies=(
            EgressPolicy(
                name="web-out",
                namespace="default",
                selector={"app": "web"},
                allow=("*.edge.intra", "api.github.com"),
                ports=(Port(443),),
            ),
        )
    ),
    opts=after_cni,
)

pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("apiEndpoint", cluster.api_endpoint)
pulumi.export("records", dns.records)
pulumi.export("policies", egress.policies)
