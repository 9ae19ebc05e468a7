"""Plugin inputs → the components' dataclasses, through the host's own input mapping.

Inputs are written as another language's program sends them (camelCase, enum values as
strings, integers as floats) and mapped by ComponentProvider.map_inputs, as the host does
before calling a component's __init__.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.provider.experimental.component import ComponentProvider

from components.cluster.model import ClusterSpec, JwtIssuer, NodeSpec, SshAccess, WebhookAuthorizer
from components.dns.model import ForwardZone, ServiceRef, Zone
from components.egress.model import EgressPolicy, Port
from components.loadbalancer.model import AddressPool, BgpSession
from components.network.model import BgpPeering, CiliumChart, DnsProxyTunables, LanAttachment, NodeAddress
from components.tls.model import CaSpec, TlsSecretSpec
from components.versions import DEFAULT_KUBERNETES_VERSION
from plugin import COMPONENTS, PACKAGE
from plugin.cluster import cluster_spec
from plugin.dns import dns_zones_args
from plugin.egress import egress_policies_args
from plugin.inputs import PluginInputError, find_outputs
from plugin.loadbalancer import load_balancer_args
from plugin.network import flat_network_args
from plugin.tls import tls_secrets_args
from tests.support.keys import ssh_private_key

KEY = ssh_private_key()  # made now: no key material is committed


@pytest.fixture(scope="module")
def host() -> ComponentProvider:
    return ComponentProvider(COMPONENTS, PACKAGE, None, "0.1.0")


def mapped(host: ComponentProvider, component: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return dict(host.map_inputs(inputs, host._component_defs[component]))


def problems_of(exc: pytest.ExceptionInfo[PluginInputError]) -> list[str]:
    return exc.value.problems


# --- KubeadmCluster -----------------------------------------------------------------


def test_cluster_single_node_defaults(host: ComponentProvider) -> None:
    args = mapped(
        host,
        "KubeadmCluster",
        {
            "nodes": [{"name": "box", "address": "192.168.50.5", "role": "control-plane"}],
            "ssh": {"user": "admin"},
            "sshPrivateKey": KEY,
        },
    )
    spec = cluster_spec(args, default_name="edge")
    assert spec == ClusterSpec(
        name="edge",
        kubernetes_version=DEFAULT_KUBERNETES_VERSION,
        nodes=(NodeSpec(name="box", address="192.168.50.5", role="control-plane", ssh=SshAccess("admin", KEY)),),
        pod_cidr="10.244.0.0/16",
        service_cidr="10.96.0.0/12",
        endpoint="192.168.50.5",
        vip=False,
    )


def test_cluster_everything(host: ComponentProvider) -> None:
    args = mapped(
        host,
        "KubeadmCluster",
        {
            "clusterName": "lab",
            "kubernetesVersion": "v1.33.2",
            "nodes": [
                {"name": "cp01", "address": "192.168.2.11", "role": "control-plane", "labels": {"zone": "a"}},
                {"name": "w1", "address": "192.168.2.21", "prepare": False, "ssh": {"user": "root", "port": 2222.0}},
            ],
            "ssh": {"user": "lab", "hostKey": "ssh-ed25519 AAAA"},
            "sshPrivateKey": KEY,
            "nodePrivateKeys": {"w1": "other-key"},
            "endpoint": "192.168.2.10",
            "apiPort": 8443.0,
            "podCidr": "10.0.0.0/16",
            "serviceCidr": "10.96.0.0/12",
            "dnsDomain": "lab.local",
            "extraSans": ["api.home.lan", "192.168.2.9"],
            "kubeProxy": True,
            "vipInterface": "eth0",
            "apiServer": {
                "jwt": [{"issuer": "https://id.home.lan", "audiences": ["kubernetes"], "groupsClaim": "groups"}],
                "authorizers": [
                    {"type": "Node"},
                    {"type": "RBAC"},
                    {"type": "Webhook", "name": "opa", "kubeConfigFile": "/etc/kubernetes/homelab/opa.kubeconfig"},
                ],
                "extraArgs": {"--audit-log-maxage": "7"},
            },
        },
    )
    spec = cluster_spec(args, default_name="ignored")
    assert (spec.name, spec.kubernetes_version, spec.endpoint, spec.vip, spec.api_port) == (
        "lab",
        "1.33.2",
        "192.168.2.10",
        True,
        8443,
    )
    cp, worker = spec.nodes
    assert cp.ssh == SshAccess("lab", KEY, 22, "ssh-ed25519 AAAA") and cp.labels == {"zone": "a"}
    assert worker == NodeSpec(
        name="w1",
        address="192.168.2.21",
        role="worker",
        ssh=SshAccess("root", "other-key", 2222, "ssh-ed25519 AAAA"),
        prepare=False,
    )
    assert isinstance(worker.ssh.port, int)
    assert (spec.pod_cidr, spec.dns_domain, spec.extra_sans, spec.kube_proxy, spec.vip_interface) == (
        "10.0.0.0/16",
        "lab.local",
        ("api.home.lan", "192.168.2.9"),
        True,
        "eth0",
    )
    assert spec.api_server.jwt == (
        JwtIssuer(url="https://id.home.lan", audiences=("kubernetes",), groups_claim="groups"),
    )
    assert spec.api_server.authorizers == (
        "Node",
        "RBAC",
        WebhookAuthorizer(name="opa", kubeconfig_path="/etc/kubernetes/homelab/opa.kubeconfig"),
    )
    assert spec.api_server.extra_args == {"audit-log-maxage": "7"}


def test_cluster_reports_every_problem_at_once(host: ComponentProvider) -> None:
    args = mapped(
        host,
        "KubeadmCluster",
        {
            "clusterName": "Lab_1",
            "kubernetesVersion": "1.20.0",
            "nodes": [
                {"name": "cp01", "address": "192.168.2.300"},
                {"name": "cp01", "address": "192.168.2.12", "role": "worker"},
            ],
            "ssh": {"user": "lab"},
            "podCidr": "10.96.0.0/16",
            "apiServer": {"jwt": [{"issuer": "http://id", "audiences": []}], "extraArgs": {"oidc-issuer-url": "x"}},
            "nodePrivateKeys": {"ghost": KEY},
        },
    )
    with pytest.raises(PluginInputError) as exc:
        cluster_spec(args, default_name="x")
    text = "\n".join(problems_of(exc))
    for key in (
        "clusterName",
        "kubernetesVersion",
        "nodes[0].address",
        "nodes[1].name",
        "serviceCidr",
        "apiServer.jwt[0].issuer",
        "apiServer.jwt[0].audiences",
        "apiServer.extraArgs[oidc-issuer-url]",
        "nodePrivateKeys[ghost]",
        "at least one node must have role control-plane",
        "no SSH private key",
    ):
        assert key in text, key
    assert str(exc.value).startswith("KubeadmCluster: invalid inputs")


def test_cluster_secret_key_map_is_resolved_per_node() -> None:
    # A secret map arrives as one Output: each node's key is picked when it is known.
    args = {
        "nodes": [{"name": "box", "address": "192.168.50.5", "role": "control-plane"}],
        "ssh": {"user": "admin"},
        "node_private_keys": pulumi.Output.secret({"box": KEY}),
    }
    spec = cluster_spec(args, default_name="edge")
    assert isinstance(spec.nodes[0].ssh.private_key, pulumi.Output)


def test_structure_given_as_an_output_is_refused() -> None:
    # A secret anywhere in `nodes` would make the host pass all of it as one Output.
    args = {"nodes": pulumi.Output.secret([{"name": "box"}]), "ssh": {"user": "admin"}, "ssh_private_key": KEY}
    with pytest.raises(PluginInputError) as exc:
        cluster_spec(args, default_name="edge")
    assert problems_of(exc)[0].startswith("nodes: must be a plain value")


def test_find_outputs_skips_allowed_inputs() -> None:
    out = pulumi.Output.from_input("1.2.3.4")
    value = {"zones": [{"records": {"a": {"ip": out}, "b": {"service": out}}}]}
    assert find_outputs(value, "", frozenset({"ip"})) == ["zones[0].records.b.service"]


# --- FlatNetwork / LoadBalancer -----------------------------------------------------


def test_flat_network(host: ComponentProvider) -> None:
    args = mapped(
        host,
        "FlatNetwork",
        {
            "podCidr": "10.244.0.0/16",
            "lanCidr": "192.168.2.0/24",
            "apiHost": "192.168.2.10",
            "nodes": [{"name": "cp01", "address": "192.168.2.11"}],
            "serviceCidr": "10.96.0.0/12",
            "bgp": {"localAsn": 64512.0, "peerAsn": 64513.0, "peerAddress": "192.168.2.1"},
            "lanAttachment": {
                "interface": "eth0",
                "range": "192.168.2.200-192.168.2.209",
                "lanCidr": "192.168.2.0/24",
                "gateway": "192.168.2.1",
                "ipam": "host-local",
            },
            "dnsProxy": {"minTtl": 600.0, "rejectResponseCode": "nameError"},
            "chart": {"path": "./charts/cilium"},
            "skipAwait": True,
        },
    )
    net = flat_network_args(args)
    assert net.nodes == (NodeAddress("cp01", "192.168.2.11"),)
    assert (net.api_port, net.service_cidr, net.skip_await) == (6443, "10.96.0.0/12", True)
    assert net.bgp == BgpPeering(local_asn=64512, peer_asn=64513, peer_address="192.168.2.1")
    assert net.lan_attachment == LanAttachment(
        interface="eth0", range="192.168.2.200-192.168.2.209", lan_cidr="192.168.2.0/24", gateway="192.168.2.1",
        ipam="host-local",
    )  # fmt: skip
    assert net.dns_proxy == DnsProxyTunables(min_ttl=600, reject_response_code="nameError")
    assert net.chart == CiliumChart(path="./charts/cilium")


def test_flat_network_problems(host: ComponentProvider) -> None:
    args = mapped(
        host,
        "FlatNetwork",
        {
            "podCidr": "10.244.0.1/16",
            "lanCidr": "192.168.2.0/24",
            "apiHost": "",
            "nodes": [{"name": "cp01", "address": "cp01.lan"}],
            "bgp": {"localAsn": 0.0, "peerAsn": 64513.5, "peerAddress": "192.168.2.1"},
            "lanAttachment": {"interface": "eth0", "range": "x", "lanCidr": "192.168.2.0/24", "gateway": "gw"},
            "dnsProxy": {"maxIpsPerHostname": 0.0},
            "chart": {"path": "./charts/cilium", "version": "1.0.0"},
            "nodeCidrMask": 31.0,
        },
    )
    with pytest.raises(PluginInputError) as exc:
        flat_network_args(args)
    text = "\n".join(problems_of(exc))
    for key in (
        "podCidr: '10.244.0.1/16' is not an IPv4 network",
        "apiHost: the API server address is required",
        "nodes[0].address: 'cp01.lan' is not an IPv4 address",
        "bgp.localAsn: must be between 1 and",
        "bgp.peerAsn: must be an integer",
        "lanAttachment.range: 'x' is not an address range",
        "lanAttachment.gateway",
        "dnsProxy.maxIpsPerHostname: must be between 1 and",
        "chart.path: a local chart path takes no repo or version",
        "nodeCidrMask: must be between 8 and 30, got 31",
    ):
        assert key in text, (key, text)


def test_load_balancer(host: ComponentProvider) -> None:
    args = mapped(
        host,
        "LoadBalancer",
        {
            "pools": [{"name": "lan", "addresses": ["192.168.2.240-192.168.2.250", "192.168.2.251"]}],
            "mode": "bgp",
            "bgp": {"myAsn": 64512.0, "peerAsn": 64513.0, "peerAddress": "192.168.2.1"},
        },
    )
    lb = load_balancer_args(args)
    assert lb.pools == (AddressPool("lan", ("192.168.2.240-192.168.2.250", "192.168.2.251/32")),)
    assert (lb.mode, lb.bgp) == ("bgp", BgpSession(64512, 64513, "192.168.2.1"))


def test_load_balancer_problems(host: ComponentProvider) -> None:
    args = mapped(
        host,
        "LoadBalancer",
        {
            "pools": [
                {"name": "a", "addresses": ["192.168.2.240-192.168.2.250"]},
                {"name": "B", "addresses": ["192.168.2.245", "nonsense"]},
            ],
            "mode": "bgp",
        },
    )
    with pytest.raises(PluginInputError) as exc:
        load_balancer_args(args)
    text = "\n".join(problems_of(exc))
    for key in ("pools[1].name", "pools[1].addresses[0]: 192.168.2.245 overlaps", "pools[1].addresses[1]", "bgp:"):
        assert key in text, key


# --- DnsZones / EgressPolicies / TlsSecrets ----------------------------------------


def test_dns_zones(host: ComponentProvider) -> None:
    args = mapped(
        host,
        "DnsZones",
        {
            "zones": [
                {
                    "name": "k8s.intra",
                    "type": "file",
                    "ttl": 60.0,
                    "records": {"echo": {"ip": "172.17.0.2"}, "grafana": {"service": "monitoring/grafana"}},
                }
            ],
            "forwards": [{"name": "home.lan", "upstreams": ["192.168.2.1"]}],
            "skipAwait": True,
        },
    )
    dns = dns_zones_args(args)
    assert dns.zones == (
        Zone(
            name="k8s.intra",
            type="file",
            ttl=60,
            records={"echo": "172.17.0.2", "grafana": ServiceRef("monitoring", "grafana")},
        ),
    )
    assert dns.forwards == (ForwardZone("home.lan", ("192.168.2.1",)),) and dns.skip_await is True


def test_dns_record_takes_an_output_ip() -> None:
    ip = pulumi.Output.from_input("10.0.0.1")
    dns = dns_zones_args({"zones": [{"name": "k8s.intra", "records": {"a": {"ip": ip}}}]})
    assert dns.zones[0].records["a"] is ip


def test_dns_record_needs_one_address() -> None:
    with pytest.raises(PluginInputError) as exc:
        dns_zones_args({"zones": [{"name": "k8s.intra", "records": {"a": {}, "b": {"service": "nons"}}}]})
    # Keys as in the stack file: a mapping key in brackets (a record name may hold dots).
    assert problems_of(exc) == [
        "zones[0].records[a]: give exactly one of ip or service",
        "zones[0].records[b].service: 'nons' must be written namespace/name",
    ]


def test_egress_policies(host: ComponentProvider) -> None:
    args = mapped(
        host,
        "EgressPolicies",
        {
            "policies": [
                {
                    "name": "web-out",
                    "namespace": "default",
                    "selector": {"app": "web"},
                    "allow": ["*.k8s.intra"],
                    "ports": [{"port": 443.0}, {"port": 53.0, "protocol": "UDP"}],
                    "dns": "allowed",
                }
            ]
        },
    )
    (policy,) = egress_policies_args(args).policies
    assert policy == EgressPolicy(
        name="web-out",
        namespace="default",
        selector={"app": "web"},
        allow=("*.k8s.intra",),
        ports=(Port(443), Port(53, "UDP")),
        dns="allowed",
    )
    assert isinstance(policy.ports[0].port, int) and policy.ports[1].protocol == "UDP"
    assert policy.ports[1].protocol == "UDP" and policy.dns == "allowed"


def test_tls_secrets(host: ComponentProvider) -> None:
    args = mapped(
        host,
        "TlsSecrets",
        {
            "ca": {"commonName": "edge CA", "rotation": 1.0},
            "secrets": [
                {
                    "name": "web",
                    "namespaces": ["default"],
                    "dnsNames": ["web.k8s.intra"],
                    "usages": ["server", "client"],
                }
            ],
            "certManager": {"enabled": True},
        },
    )
    tls = tls_secrets_args(args)
    assert tls.ca == CaSpec(common_name="edge CA", rotation=1)
    assert tls.secrets == (
        TlsSecretSpec(name="web", namespaces=("default",), dns_names=("web.k8s.intra",), usages=("server", "client")),
    )
    assert tls.cert_manager.enabled is True


def test_egress_policies_report_every_problem_with_its_path() -> None:
    policy = {"name": "p", "namespace": "apps", "allow": ["a.com"]}
    with pytest.raises(PluginInputError) as exc:
        egress_policies_args(
            {
                "policies": [
                    {
                        **policy,
                        "allow": ["**.a.com", "*"],
                        "ports": [{"port": 0.0}, {"port": 53.0, "protocol": "SCTP"}],
                    },
                    {"name": "q", "allow": ["a.com"], "dns": "none"},
                    {**policy, "selector": {"app": "bad value"}},
                ],
                "cilium_version": "1.18.4",
            }
        )
    # The rules across a policy's fields and across policies too, though values were refused.
    assert problems_of(exc) == [
        "policies[0].allow[0]: '**.a.com': Cilium 1.18.4 has no multi-level wildcard ('**.' arrived in 1.19; "
        "before that '**' matches within one label like '*'); list each depth instead, e.g. '*.example.com' "
        "and '*.*.example.com'",
        "policies[0].ports[0].port: must be between 1 and 65535, got 0",
        "policies[0].ports[1].protocol: must be one of TCP, UDP, ANY, got 'SCTP'",
        "policies[1].dns: must be one of all, allowed, got 'none'",
        "policies[2].selector[app]: label value 'bad value' must be at most 63 letters, digits, '-', '_' or '.', "
        "starting and ending with a letter or digit",
        "policies[0].allow[1]: a bare '*' allows every name the pod resolves; set allowAll: true if that is really "
        "meant",
        "policies[1].namespace: is required (or set clusterwide: true)",
        "policies[2].name: 'p' is already defined at policies[0]",
    ]
    with pytest.raises(PluginInputError) as exc:
        egress_policies_args({"policies": [policy, policy]})
    assert problems_of(exc) == ["policies[1].name: 'p' is already defined at policies[0]"]


def test_tls_secrets_report_every_problem_with_its_path() -> None:
    web = {"name": "web", "namespaces": ["default"], "dns_names": ["web.k8s.intra"]}
    with pytest.raises(PluginInputError) as exc:
        tls_secrets_args(
            {
                "ca": {"validity_hours": 10.0, "early_renewal_hours": 20.0},
                "secrets": [{**web, "usages": ["server", "peer"], "ip_addresses": ["web"]}, {"name": "x"}],
                "cert_manager": {"namespace": "Cert-Manager"},
            }
        )
    assert problems_of(exc) == [
        "ca.earlyRenewalHours: early renewal (20 h) must be at least 0 and shorter than the validity (10 h)",
        "secrets[0].ipAddresses[0]: 'web' is not an IP address (DNS names go under dnsNames)",
        "secrets[0].usages[1]: 'peer' is not a usage: use server, client (both for mTLS)",
        "secrets[1].namespaces: is required",
        "certManager.namespace: 'Cert-Manager' is not a valid namespace name (DNS-1123 label)",
        # Rules across fields, though values were refused.
        "secrets[1].dnsNames: a server certificate needs at least one dnsNames or ipAddresses entry",
    ]
    with pytest.raises(PluginInputError) as exc:
        tls_secrets_args({"secrets": [web, web]})
    assert problems_of(exc) == [
        "secrets[1].name: 'web' is already used by secrets[0]: one entry can write the same certificate to several "
        "namespaces (namespaces: [...]); a different certificate needs another name"
    ]
