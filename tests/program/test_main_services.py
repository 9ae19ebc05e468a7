"""The real __main__.py under mocks: the services on the cluster, their ordering and outputs."""

from __future__ import annotations

import pytest

from tests.program.test_main_cluster import closure, run_stack
from tests.support.harness import ProgramRun
from tests.support.stacks import STACKS

CRD_SOURCES = {
    "cilium.io": "network-cilium",
    "metallb.io": "loadbalancer-metallb",
    "k8s.cni.cncf.io": "network-multus-customresourcedefinition",
}


@pytest.fixture(scope="module", params=STACKS)
def run(request: pytest.FixtureRequest) -> ProgramRun:
    return run_stack(request.param)


def test_custom_resources_wait_for_their_crds(run: ProgramRun) -> None:
    names = {r.name: r.urn for r in run.resources}
    checked = 0
    for r in run.resources:
        group = r.type.split(":")[1].split("/")[0] if r.type.startswith("kubernetes:") else ""
        if group in CRD_SOURCES:
            assert names[CRD_SOURCES[group]] in closure(run, r), f"{r.type} {r.name} may race its CRD"
            checked += 1
    assert checked >= 3


def test_services_come_after_the_cluster(run: ProgramRun) -> None:
    (init,) = [r for r in run.resources if r.name.endswith("-init")]
    for r in run.resources:
        if r.type.startswith("kubernetes:") and r.custom and not r.name.startswith("network-node-"):
            assert init.urn in closure(run, r), f"{r.type} {r.name} does not wait for the cluster"


def test_coredns_is_patched_never_created(run: ProgramRun) -> None:
    kinds = {r.type for r in run.resources if r.name.startswith("dns-")}
    assert {"kubernetes:core/v1:ConfigMapPatch", "kubernetes:apps/v1:DeploymentPatch"} <= kinds
    for r in run.resources:
        if r.type.endswith("Patch"):
            assert r.inputs["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"
    assert not [r for r in run.resources if r.type == "kubernetes:core/v1:ConfigMap" and r.name.startswith("dns")]


def test_reference_scenario(run: ProgramRun) -> None:
    """Pods labelled app=net reach only *.k8s.intra; echo.k8s.intra is 172.17.0.2."""
    (policy,) = [r for r in run.resources if r.name == "egress-default-net-to-intra"]
    spec = policy.inputs["spec"]
    assert spec["endpointSelector"]["matchLabels"] == {"app": "net"}
    fqdn_rules = [rule for rule in spec["egress"] if "toFQDNs" in rule]
    assert fqdn_rules == [{"toFQDNs": [{"matchPattern": "*.k8s.intra"}]}]
    dns_rules = [rule for rule in spec["egress"] if "toEndpoints" in rule]
    assert dns_rules and dns_rules[0]["toPorts"][0]["rules"]["dns"]
    assert run.outputs["dnsRecords"]["k8s.intra"]["echo.k8s.intra"] == "172.17.0.2"


def test_tls_material_stays_secret(run: ProgramRun) -> None:
    secrets = [r for r in run.resources if r.type == "kubernetes:core/v1:Secret"]
    assert secrets
    for s in secrets:
        assert "stringData" in s.secret_inputs, s.name
    # one key for the CA and one per certificate; their PEM outputs are secret by the
    # provider's schema (see tests/program/test_tls_component.py)
    keys = [r for r in run.resources if r.type == "tls:index/privateKey:PrivateKey"]
    assert len(keys) == 1 + len([r for r in run.resources if r.type == "tls:index/locallySignedCert:LocallySignedCert"])
    assert "labCaCertificate" not in run.secret_outputs


def test_outputs_of_the_services(run: ProgramRun) -> None:
    for key in ("routerRoutes", "loadBalancerPools", "dnsRecords", "egressPolicies", "labCaCertificate"):
        assert key in run.outputs, key
    assert run.outputs["loadBalancerPools"] == {"lan": ["192.168.2.240-192.168.2.250"]}


def test_coredns_corefile_is_retained_on_delete(run: ProgramRun) -> None:
    (corefile,) = [r for r in run.resources if r.type == "kubernetes:core/v1:ConfigMapPatch"]
    assert corefile.options["retain_on_delete"] is True
    (rollout,) = [r for r in run.resources if r.type == "kubernetes:apps/v1:DeploymentPatch"]
    assert rollout.options["retain_on_delete"] is False
