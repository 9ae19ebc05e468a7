"""EgressPolicies under Pulumi mocks: one CR per policy, after the CRDs, through the provider."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.egress import EgressPolicies, EgressPoliciesArgs, EgressPolicy, Port
from components.egress.policy import render_policy
from tests.support.harness import ProgramRun, run

CNP = "kubernetes:cilium.io/v2:CiliumNetworkPolicy"
CCNP = "kubernetes:cilium.io/v2:CiliumClusterwideNetworkPolicy"
NET = EgressPolicy(name="net-to-intra", namespace="default", selector={"app": "net"}, allow=("*.k8s.intra",))
UPDATES = EgressPolicy(
    name="updates",
    namespace="apps",
    selector={"app": "updater"},
    allow=("api.github.com", "*.debian.org"),
    ports=(Port(443),),
)
SANDBOX = EgressPolicy(name="sandbox", clusterwide=True, selector={"tier": "sandbox"}, allow=("*.k8s.intra",))


def go(*policies: EgressPolicy) -> ProgramRun:
    def fn() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        # Stands in for the Cilium chart that installs the CRDs.
        cilium = k8s.core.v1.Namespace(
            "cilium-stand-in", metadata={"name": "x"}, opts=pulumi.ResourceOptions(provider=provider)
        )
        egress = EgressPolicies(
            "egress",
            EgressPoliciesArgs(policies=policies),
            opts=pulumi.ResourceOptions(provider=provider, depends_on=[cilium]),
        )
        pulumi.export("policies", egress.policies)

    return run(fn)


def spec_of(resource: Any) -> dict[str, Any]:
    return {k: resource.inputs[k] for k in ("apiVersion", "kind", "metadata", "spec")}


def test_one_policy_per_entry_exactly_as_rendered() -> None:
    r = go(NET, UPDATES, SANDBOX)
    by_name = {x.name: x for x in r.resources}
    assert spec_of(by_name["egress-default-net-to-intra"]) == render_policy(NET)
    assert spec_of(by_name["egress-apps-updates"]) == render_policy(UPDATES)
    assert spec_of(by_name["egress-cluster-sandbox"]) == render_policy(SANDBOX)
    assert sorted(x.name for x in r.by_type(CNP)) == ["egress-apps-updates", "egress-default-net-to-intra"]
    assert [x.name for x in r.by_type(CCNP)] == ["egress-cluster-sandbox"]


def test_policies_wait_for_the_crds_and_use_the_provider() -> None:
    r = go(NET, SANDBOX)
    provider = r.named("k8s").urn
    cilium = r.named("cilium-stand-in").urn
    (component,) = r.by_type("homelab:egress:EgressPolicies")
    for cr in r.by_type(CNP) + r.by_type(CCNP):
        assert cr.parent == component.urn
        assert cr.provider_urn == provider
        assert cr.depends_on(cilium)


def test_outputs_name_every_policy() -> None:
    assert go(NET, SANDBOX).outputs["policies"] == [
        "CiliumNetworkPolicy/default/net-to-intra",
        "CiliumClusterwideNetworkPolicy/sandbox",
    ]


def test_no_policies_no_resources() -> None:
    r = go()
    assert r.by_type(CNP) == [] and r.outputs["policies"] == []


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(Exception, match="no multi-level wildcard"):
        go(EgressPolicy(name="x", namespace="default", allow=("**.k8s.intra",)))
