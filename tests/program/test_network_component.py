"""FlatNetwork under Pulumi mocks: the graph it registers, with a dummy Kubernetes provider."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.network import (
    BgpPeering,
    CiliumChart,
    FlatNetwork,
    FlatNetworkArgs,
    LanAttachment,
    NodeAddress,
)
from components.versions import CILIUM_VERSION
from tests.support.harness import ProgramRun, Registered, run

NODES = (
    NodeAddress("cp01", "192.168.2.11"),
    NodeAddress("cp02", "192.168.2.12"),
    NodeAddress("cp03", "192.168.2.13"),
    NodeAddress("worker01", "192.168.2.21"),
    NodeAddress("worker02", "192.168.2.22"),
)
# What kube-controller-manager handed out, out of join order (workers join in parallel).
REAL_CIDRS = {
    "cp01": "10.244.0.0/24",
    "cp02": "10.244.2.0/24",
    "cp03": "10.244.4.0/24",
    "worker01": "10.244.1.0/24",
    "worker02": "10.244.3.0/24",
}
PROD = FlatNetworkArgs(
    pod_cidr="10.244.0.0/16",
    lan_cidr="192.168.2.0/24",
    api_host="192.168.2.10",
    api_port=6443,
    nodes=NODES,
    service_cidr="10.96.0.0/12",
    bgp=BgpPeering(local_asn=64512, peer_asn=64501, peer_address="192.168.2.1"),
    lan_attachment=LanAttachment(
        interface="eno1",
        range="192.168.2.224-192.168.2.239",
        lan_cidr="192.168.2.0/24",
        gateway="192.168.2.1",
        namespaces=("home",),
    ),
    chart=CiliumChart(path="/charts/cilium"),
)
DEV = FlatNetworkArgs(
    pod_cidr="10.244.0.0/16",
    lan_cidr="192.168.2.0/24",
    api_host="192.168.2.11",
    api_port=6443,
    nodes=NODES[:1] + NODES[3:4],
    service_cidr="10.96.0.0/12",
)


def node_cidrs(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any] | None:
    if args.typ == "kubernetes:core/v1:Node":
        return {"spec": {"podCIDR": REAL_CIDRS[args.resource_id]}}
    return None


def program(args: FlatNetworkArgs, *, with_dependency: bool = False) -> Any:
    def fn() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}", cluster_identifier="lab")
        deps: list[pulumi.Resource] = []
        if with_dependency:
            deps.append(
                k8s.core.v1.ConfigMap("cluster-ready", data={"ok": "1"}, opts=pulumi.ResourceOptions(provider=provider))
            )
        net = FlatNetwork("net", args, opts=pulumi.ResourceOptions(provider=provider, depends_on=deps))
        pulumi.export("release", net.release_name)
        pulumi.export("namespace", net.namespace)
        pulumi.export("bgp", net.bgp_enabled)
        pulumi.export("routes", net.router_routes)
        pulumi.export("lan", net.lan_attachment)

    return fn


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run(program(PROD, with_dependency=True), hooks=[node_cidrs])


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run(program(DEV))


def component(r: ProgramRun) -> Registered:
    (c,) = r.by_type("homelab:network:FlatNetwork")
    return c


def chart(r: ProgramRun) -> Registered:
    (c,) = r.by_type("kubernetes:helm.sh/v4:Chart")
    return c


def test_every_kubernetes_resource_uses_the_given_provider(prod: ProgramRun) -> None:
    (provider,) = prod.by_type("pulumi:providers:kubernetes")
    k8s_resources = [r for r in prod.resources if r.type.startswith("kubernetes:")]
    assert len(k8s_resources) > 10
    for r in k8s_resources:
        assert r.provider_urn == provider.urn, r.name


def test_children_are_parented_to_the_component(prod: ProgramRun) -> None:
    comp = component(prod)
    for r in prod.resources:
        if r.type.startswith("kubernetes:") and r.name != "cluster-ready":
            assert r.parent == comp.urn, r.name


def test_chart_is_kube_system_cilium_with_native_routing(prod: ProgramRun) -> None:
    c = chart(prod)
    assert c.inputs["chart"] == "/charts/cilium"
    assert "version" not in c.inputs and "repositoryOpts" not in c.inputs
    assert c.inputs["namespace"] == "kube-system"
    assert c.inputs["name"] == "cilium"
    values = c.inputs["values"]
    assert values["routingMode"] == "native"
    assert values["bgpControlPlane"] == {"enabled": True}
    assert values["cni"] == {"exclusive": False}
    text = json.dumps(values).lower()
    assert "tunnel" not in text and "vxlan" not in text and "geneve" not in text


def test_chart_from_the_repo_is_pinned(dev: ProgramRun) -> None:
    c = chart(dev)
    assert c.inputs["chart"] == "cilium"
    assert c.inputs["version"] == CILIUM_VERSION
    assert c.inputs["repositoryOpts"] == {"repo": "https://helm.cilium.io"}


def test_component_dependencies_reach_the_chart(prod: ProgramRun) -> None:
    ready = prod.named("cluster-ready")
    assert chart(prod).depends_on(ready.urn)


def test_bgp_crs_depend_on_the_chart(prod: ProgramRun) -> None:
    c = chart(prod)
    crs = [r for r in prod.resources if r.type.startswith("kubernetes:cilium.io/")]
    assert sorted(r.type for r in crs) == [
        "kubernetes:cilium.io/v2:CiliumBGPAdvertisement",
        "kubernetes:cilium.io/v2:CiliumBGPClusterConfig",
        "kubernetes:cilium.io/v2:CiliumBGPPeerConfig",
    ]
    for r in crs:
        assert r.depends_on(c.urn), r.name
    (cc,) = prod.by_type("kubernetes:cilium.io/v2:CiliumBGPClusterConfig")
    peer = cc.inputs["spec"]["bgpInstances"][0]["peers"][0]
    assert (peer["peerASN"], peer["peerAddress"]) == (64501, "192.168.2.1")


def test_multus_and_nad_follow_cilium(prod: ProgramRun) -> None:
    c = chart(prod)
    multus_types = [
        "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:apps/v1:DaemonSet",
    ]
    for t in multus_types:
        found = [r for r in prod.by_type(t) if r.name.startswith("net-multus")]
        assert len(found) == 1, t
        assert found[0].depends_on(c.urn)
    (crd,) = prod.by_type("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition")
    (nad,) = prod.by_type("kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition")
    assert nad.depends_on(crd.urn) and nad.depends_on(c.urn)
    assert nad.inputs["metadata"] == {
        "name": "lan",
        "namespace": "home",
        "annotations": {"homelab/lan-range": "192.168.2.224-192.168.2.239", "homelab/lan-gateway": "192.168.2.1"},
    }
    config = json.loads(nad.inputs["spec"]["config"])
    assert (config["type"], config["master"], config["mode"]) == ("macvlan", "eno1", "bridge")


def test_router_routes_use_the_real_node_cidrs(prod: ProgramRun) -> None:
    routes = prod.outputs["routes"]
    assert routes["predicted"] == []
    assert routes["routes"] == [
        {"destination": REAL_CIDRS[n.name], "gateway": n.address, "node": n.name} for n in NODES
    ]
    assert "ip route add 10.244.2.0/24 via 192.168.2.12  # cp02" in routes["commands"]
    assert routes["summary"] == {"destination": "10.244.0.0/16", "gateway": "192.168.2.11", "node": "cp01"}


def test_outputs(prod: ProgramRun, dev: ProgramRun) -> None:
    assert prod.outputs["release"] == "cilium"
    assert prod.outputs["namespace"] == "kube-system"
    assert prod.outputs["bgp"] is True
    assert prod.outputs["lan"] == "lan"
    assert dev.outputs["bgp"] is False
    assert dev.outputs["lan"] is None


def test_dev_has_neither_bgp_nor_multus(dev: ProgramRun) -> None:
    types = {r.type for r in dev.resources}
    assert not any(t.startswith("kubernetes:cilium.io/") for t in types)
    assert "kubernetes:apps/v1:DaemonSet" not in types
    assert chart(dev).inputs["values"]["cni"] == {"exclusive": True}


def test_unknown_node_cidrs_fall_back_to_the_prediction(dev: ProgramRun) -> None:
    routes = dev.outputs["routes"]
    assert routes["predicted"] == ["cp01", "worker01"]
    assert [r["destination"] for r in routes["routes"]] == ["10.244.0.0/24", "10.244.1.0/24"]
    assert "PREDICTED" in routes["commands"]


UNKNOWN_ID = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the SDK's wire form of an unknown value


def test_a_node_not_joined_yet_is_not_read_in_a_preview() -> None:
    """The real engine skips a read whose id is unknown (tried on it); a known one is read."""
    import asyncio

    def unknown() -> pulumi.Output[Any]:
        loop = asyncio.get_event_loop()
        value, known = loop.create_future(), loop.create_future()
        value.set_result(None)
        known.set_result(False)
        return pulumi.Output(set(), value, known)

    reads: dict[str, str] = {}

    def record(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any] | None:
        if args.typ == "kubernetes:core/v1:Node":
            reads[args.name] = args.resource_id
        return node_cidrs(args) if args.resource_id in REAL_CIDRS else None

    def fn() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}", cluster_identifier="lab")
        joined = k8s.core.v1.ConfigMap("cp01-joined", data={}, opts=pulumi.ResourceOptions(provider=provider))
        ready = {"cp01": joined.id, "worker01": unknown()}
        net = FlatNetwork("net", DEV, opts=pulumi.ResourceOptions(provider=provider), node_ready=ready)
        pulumi.export("routes", net.router_routes)

    r = run(fn, hooks=[record], preview=True)
    assert reads == {"net-node-cp01": "cp01", "net-node-worker01": UNKNOWN_ID}
    assert r.outputs["routes"] is None  # unknown until the new node has joined
