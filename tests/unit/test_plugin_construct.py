"""The plugin's Construct path under Pulumi mocks: what another language's program gets.

ComponentProvider.construct is what the host runs for a Construct request: it maps the
camelCase inputs, calls the wrapper, and returns its state by schema name. The wrapper
must register the requested type and build the real component underneath it.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.server import ComponentInitError
from pulumi.runtime import mocks as pmocks

from plugin import COMPONENTS, PACKAGE
from tests.support.harness import ProgramRun, run
from tests.support.stacks import TEST_SSH_KEY, host_answers

HOST = ComponentProvider(COMPONENTS, PACKAGE, None, "0.1.0")


def construct(name: str, component: str, inputs: dict[str, Any], opts: pulumi.ResourceOptions) -> dict[str, Any]:
    result = HOST.construct(name, f"homelab:index:{component}", inputs, opts)
    return dict(result.state)


def service_status(args: pmocks.MockResourceArgs) -> dict[str, Any] | None:
    if args.typ == "kubernetes:core/v1:Service":
        return {"status": {"loadBalancer": {"ingress": [{"ip": "192.168.2.240"}]}}}
    return None


def whole_lab() -> None:
    """Every plugin component, wired the way a YAML or TypeScript program would."""
    cluster = construct(
        "edge",
        "KubeadmCluster",
        {
            "nodes": [{"name": "box", "address": "192.168.50.5", "role": "control-plane"}],
            "ssh": {"user": "admin"},
            "sshPrivateKey": pulumi.Output.secret(TEST_SSH_KEY),
        },
        pulumi.ResourceOptions(),
    )
    provider = k8s.Provider("consumer-k8s", kubeconfig=cluster["kubeconfig"])
    on_cluster = pulumi.ResourceOptions(providers={"kubernetes": provider})
    network = construct(
        "network",
        "FlatNetwork",
        {
            "podCidr": "10.244.0.0/16",
            "lanCidr": "192.168.50.0/24",
            "apiHost": "192.168.50.5",
            "nodes": [{"name": "box", "address": "192.168.50.5"}],
            "chart": {"path": "./charts/cilium"},
            "readNodePodCidrs": False,
        },
        on_cluster,
    )
    # Stands in for the network component: the engine hands on depends_on as resources.
    cni = k8s.core.v1.Namespace("cni-stand-in", metadata={"name": "x"}, opts=pulumi.ResourceOptions(provider=provider))
    after_cni = pulumi.ResourceOptions(providers={"kubernetes": provider}, depends_on=[cni])
    lb = construct(
        "lb",
        "LoadBalancer",
        {"pools": [{"name": "lan", "addresses": ["192.168.50.240-192.168.50.250"]}], "chart": {"path": "./m"}},
        after_cni,
    )
    dns = construct(
        "dns",
        "DnsZones",
        {
            "zones": [{"name": "edge.intra", "records": {"box": {"ip": "192.168.50.5"}, "web": {"service": "a/web"}}}],
            "forwards": [{"name": "home.lan", "upstreams": ["192.168.50.1"]}],
        },
        after_cni,
    )
    egress = construct(
        "egress",
        "EgressPolicies",
        {"policies": [{"name": "web-out", "namespace": "default", "allow": ["*.edge.intra"]}]},
        after_cni,
    )
    tls = construct(
        "tls",
        "TlsSecrets",
        {"secrets": [{"name": "web", "namespaces": ["default"], "dnsNames": ["web.edge.intra"]}]},
        on_cluster,
    )
    pulumi.export("cluster", cluster)
    pulumi.export("network", network)
    pulumi.export("lb", lb)
    pulumi.export("dns", dns)
    pulumi.export("egress", egress)
    pulumi.export("tls", tls)
    pulumi.export("kubeconfig", cluster["kubeconfig"])


@pytest.fixture(scope="module")
def lab() -> ProgramRun:
    return run(whole_lab, hooks=[host_answers, service_status])


def test_each_wrapper_registers_the_requested_type_over_the_real_component(lab: ProgramRun) -> None:
    index = lab.by_urn()
    real = {
        "KubeadmCluster": "homelab:cluster:KubeadmCluster",
        "FlatNetwork": "homelab:network:FlatNetwork",
        "LoadBalancer": "homelab:loadbalancer:LoadBalancer",
        "DnsZones": "homelab:dns:DnsZones",
        "EgressPolicies": "homelab:egress:EgressPolicies",
        "TlsSecrets": "homelab:tls:TlsSecrets",
    }
    for name, real_type in real.items():
        (wrapper,) = lab.by_type(f"homelab:index:{name}")
        children = [r for r in lab.resources if r.parent == wrapper.urn]
        assert [(c.type, c.name) for c in children] == [(real_type, wrapper.name)], name
        (inner,) = children
        assert index[inner.parent] is wrapper


def test_kubernetes_resources_use_the_provider_the_caller_passed(lab: ProgramRun) -> None:
    (consumer,) = [r for r in lab.by_type("pulumi:providers:kubernetes") if r.name == "consumer-k8s"]
    for r in lab.resources:
        if r.type.startswith("kubernetes:") and r.name != "cni-stand-in":
            assert r.provider_urn == consumer.urn, f"{r.type} {r.name}"


def test_depends_on_reaches_the_real_components_children(lab: ProgramRun) -> None:
    (cni,) = [r for r in lab.resources if r.name == "cni-stand-in"]
    (policy,) = lab.by_type("kubernetes:cilium.io/v2:CiliumNetworkPolicy")
    (patch,) = lab.by_type("kubernetes:core/v1:ConfigMapPatch")
    (pool,) = lab.by_type("kubernetes:metallb.io/v1beta1:IPAddressPool")
    for r in (policy, patch, pool):
        assert cni.urn in r.dependencies, r.name


def test_state_uses_schema_names_and_keeps_secrets(lab: ProgramRun) -> None:
    out = lab.outputs
    assert set(out["cluster"]) == {"kubeconfig", "apiEndpoint", "caCertificate", "clusterIdentifier", "clusterNodes"}
    assert out["cluster"]["clusterIdentifier"] == "edge"
    assert out["cluster"]["clusterNodes"] == [{"name": "box", "address": "192.168.50.5", "role": "control-plane"}]
    assert "kubeconfig" in lab.secret_outputs
    (init,) = [r for r in lab.by_type("command:remote:Command") if r.name == "edge-box-init"]
    assert "connection" in init.secret_inputs
    assert set(out["network"]) >= {"releaseName", "namespace", "bgpEnabled", "routerRoutes"}
    assert out["lb"]["poolAddresses"] == {"lan": ["192.168.50.240-192.168.50.250"]}
    assert out["dns"]["records"] == {
        "edge.intra": {"box.edge.intra": "192.168.50.5", "web.edge.intra": "192.168.2.240"}
    }
    assert out["egress"]["policyRefs"] == ["CiliumNetworkPolicy/default/web-out"]
    assert out["tls"]["secretRefs"] == ["default/web"]
    assert out["tls"]["issuer"] is None  # no cert-manager issuer asked for


def _bad_cluster() -> None:
    construct("edge", "KubeadmCluster", {"nodes": [], "ssh": {"user": "admin"}}, pulumi.ResourceOptions())


def test_bad_inputs_fail_the_construct_with_every_problem() -> None:
    with pytest.raises(ComponentInitError) as exc:
        run(_bad_cluster)
    assert "nodes: at least one node is required" in str(exc.value.inner)


def _missing_required() -> None:
    construct("edge", "KubeadmCluster", {"ssh": {"user": "admin"}}, pulumi.ResourceOptions())


def test_missing_required_input_is_the_hosts_error() -> None:
    with pytest.raises(pulumi.InputPropertyError, match="Missing required input 'nodes'"):
        run(_missing_required)
