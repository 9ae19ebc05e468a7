"""LoadBalancer under Pulumi mocks: namespace, chart, pools and adverts with a dummy provider."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.loadbalancer import AddressPool, BgpSession, LoadBalancer, LoadBalancerArgs, MetalLbChart
from components.versions import METALLB_VERSION
from tests.support.harness import ProgramRun, Registered, run

POOLS = (
    AddressPool("lan", ("192.168.2.240-192.168.2.250",)),
    AddressPool("fixed", ("192.168.2.252/32",), auto_assign=False),
)
L2 = LoadBalancerArgs(pools=POOLS, interfaces=("eno1",))
BGP = LoadBalancerArgs(
    pools=POOLS[:1], mode="bgp", bgp=BgpSession(64512, 64501, "192.168.2.1"), chart=MetalLbChart(path="/charts/metallb")
)


def program(args: LoadBalancerArgs) -> Any:
    def fn() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}", cluster_identifier="lab")
        ready = k8s.core.v1.ConfigMap("network-ready", data={"ok": "1"}, opts=pulumi.ResourceOptions(provider=provider))
        lb = LoadBalancer("lb", args, opts=pulumi.ResourceOptions(provider=provider, depends_on=[ready]))
        pulumi.export("pools", lb.pools)
        pulumi.export("namespace", lb.namespace)
        pulumi.export("mode", lb.mode)

    return fn


@pytest.fixture(scope="module")
def l2() -> ProgramRun:
    return run(program(L2))


@pytest.fixture(scope="module")
def bgp() -> ProgramRun:
    return run(program(BGP))


def chart(r: ProgramRun) -> Registered:
    (c,) = r.by_type("kubernetes:helm.sh/v4:Chart")
    return c


def customs(r: ProgramRun) -> list[Registered]:
    return [x for x in r.resources if x.type.startswith("kubernetes:metallb.io/")]


def test_every_kubernetes_resource_uses_the_given_provider(l2: ProgramRun) -> None:
    (provider,) = l2.by_type("pulumi:providers:kubernetes")
    (comp,) = l2.by_type("homelab:loadbalancer:LoadBalancer")
    for r in l2.resources:
        if r.type.startswith("kubernetes:"):
            assert r.provider_urn == provider.urn, r.name
            if r.name != "network-ready":
                assert r.parent == comp.urn, r.name


def test_namespace_with_pod_security_labels(l2: ProgramRun) -> None:
    (ns,) = l2.by_type("kubernetes:core/v1:Namespace")
    assert ns.inputs["metadata"]["name"] == "metallb-system"
    labels = ns.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert ns.depends_on(l2.named("network-ready").urn)


def test_chart_is_pinned_in_its_namespace(l2: ProgramRun) -> None:
    c = chart(l2)
    (ns,) = l2.by_type("kubernetes:core/v1:Namespace")
    assert c.inputs["chart"] == "metallb"
    assert c.inputs["version"] == METALLB_VERSION
    assert c.inputs["repositoryOpts"] == {"repo": "https://metallb.github.io/metallb"}
    assert c.inputs["namespace"] == "metallb-system"
    assert c.depends_on(ns.urn)
    assert c.inputs["values"]["speaker"]["excludeInterfaces"] == {"enabled": True}


def test_local_chart_path(bgp: ProgramRun) -> None:
    c = chart(bgp)
    assert c.inputs["chart"] == "/charts/metallb"
    assert "version" not in c.inputs


def test_pools_and_l2_advert_after_the_chart(l2: ProgramRun) -> None:
    c = chart(l2)
    crs = customs(l2)
    assert sorted(r.type.split(":")[-1] for r in crs) == ["IPAddressPool", "IPAddressPool", "L2Advertisement"]
    for r in crs:
        assert r.depends_on(c.urn), r.name
        assert r.inputs["metadata"]["namespace"] == "metallb-system"
    pools = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in crs if r.type.endswith("IPAddressPool")}
    assert pools == {
        "lan": {"addresses": ["192.168.2.240-192.168.2.250"], "autoAssign": True},
        "fixed": {"addresses": ["192.168.2.252/32"], "autoAssign": False},
    }
    (adv,) = l2.by_type("kubernetes:metallb.io/v1beta1:L2Advertisement")
    assert adv.inputs["spec"] == {"ipAddressPools": ["lan", "fixed"], "interfaces": ["eno1"]}


def test_bgp_mode_adds_peer_and_advert(bgp: ProgramRun) -> None:
    c = chart(bgp)
    (peer,) = bgp.by_type("kubernetes:metallb.io/v1beta2:BGPPeer")
    (adv,) = bgp.by_type("kubernetes:metallb.io/v1beta1:BGPAdvertisement")
    assert peer.inputs["spec"] == {"myASN": 64512, "peerASN": 64501, "peerAddress": "192.168.2.1"}
    assert adv.inputs["spec"]["ipAddressPools"] == ["lan"]
    assert peer.depends_on(c.urn) and adv.depends_on(c.urn)
    assert len(bgp.by_type("kubernetes:metallb.io/v1beta1:L2Advertisement")) == 1


def test_outputs(l2: ProgramRun, bgp: ProgramRun) -> None:
    assert l2.outputs["pools"] == {"lan": ["192.168.2.240-192.168.2.250"], "fixed": ["192.168.2.252/32"]}
    assert l2.outputs["namespace"] == "metallb-system"
    assert (l2.outputs["mode"], bgp.outputs["mode"]) == ("l2", "bgp")
