"""tests/consumer and the examples in docs/reuse.md: other projects' programs built from
homelab's components, under mocks.

Each has its own project name and config, so it runs as that project with only its own
config keys; homelab's stack files and `lab/` settings play no part.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import yaml

from tests.support.harness import ROOT, ProgramRun, Registered, run
from tests.support.stacks import TEST_SSH_KEY, host_answers

CONSUMER = ROOT / "tests" / "consumer"
COMMAND = "command:remote:Command"
CNP = "kubernetes:cilium.io/v2:CiliumNetworkPolicy"


def project_name() -> str:
    return str(yaml.safe_load((CONSUMER / "Pulumi.yaml").read_text())["name"])


def run_consumer(**config: str) -> ProgramRun:
    project = project_name()
    values = {f"{project}:sshPrivateKey": TEST_SSH_KEY, **{f"{project}:{k}": v for k, v in config.items()}}
    return run(
        lambda: runpy.run_path(str(CONSUMER / "__main__.py"), run_name="__main__"),
        config=values,
        secret_keys=[f"{project}:sshPrivateKey"],
        project=project,
        stack="edge",
        hooks=[host_answers],
    )


@pytest.fixture(scope="module")
def consumer() -> ProgramRun:
    return run_consumer()


def commands(run: ProgramRun, suffix: str) -> list[Registered]:
    return [r for r in run.by_type(COMMAND) if r.name.endswith(suffix)]


def test_it_is_a_project_of_its_own() -> None:
    assert project_name() == "lab-consumer"
    source = (CONSUMER / "__main__.py").read_text()
    assert "from lab" not in source and "import lab" not in source, "the consumer must not use homelab's settings"


def test_one_init_and_no_join(consumer: ProgramRun) -> None:
    (init,) = commands(consumer, "-init")
    assert init.name == "edge-box-init"
    assert init.inputs["connection"]["host"] == "192.168.50.5"
    assert commands(consumer, "-join") == [] and commands(consumer, "-join-token") == []
    # No VIP: no kube-vip manifest, and the endpoint is the machine itself.
    assert "kube-vip" not in init.inputs["stdin"]
    assert consumer.outputs["apiEndpoint"] == "https://192.168.50.5:6443"


def test_every_kubernetes_resource_uses_the_consumers_cluster(consumer: ProgramRun) -> None:
    (provider,) = consumer.by_type("pulumi:providers:kubernetes")
    assert provider.name == "edge-k8s" and provider.inputs["clusterIdentifier"] == "edge"
    kube = [r for r in consumer.resources if r.type.startswith("kubernetes:")]
    assert kube, "the stack made no Kubernetes resources"
    for r in kube:
        assert r.provider_urn == provider.urn, f"{r.type} {r.name} uses {r.provider_urn or 'the default provider'}"


def test_only_dns_zones_and_egress_policies_from_homelab(consumer: ProgramRun) -> None:
    components = sorted({r.type for r in consumer.resources if r.type.startswith("homelab:")})
    assert components == ["homelab:cluster:KubeadmCluster", "homelab:dns:DnsZones", "homelab:egress:EgressPolicies"]


def test_the_dns_patch(consumer: ProgramRun) -> None:
    (cm,) = consumer.by_type("kubernetes:core/v1:ConfigMapPatch")
    assert cm.name == "dns-corefile"
    assert cm.inputs["metadata"] == {
        "name": "coredns",
        "namespace": "kube-system",
        "annotations": {"pulumi.com/patchForce": "true"},
    }
    corefile = cm.inputs["data"]["Corefile"]
    assert "edge.intra:53 {" in corefile and "192.168.50.5 box.edge.intra" in corefile
    assert "home.lan:53 {" in corefile and "forward . 192.168.50.1" in corefile
    (rollout,) = consumer.by_type("kubernetes:apps/v1:DeploymentPatch")
    assert cm.urn in rollout.dependencies
    assert consumer.outputs["records"] == {
        "edge.intra": {"edge.intra": "192.168.50.5", "box.edge.intra": "192.168.50.5"}
    }


def test_the_policy_waits_for_the_cni(consumer: ProgramRun) -> None:
    (policy,) = consumer.by_type(CNP)
    assert policy.name == "egress-default-web-out"
    assert policy.inputs["metadata"]["namespace"] == "default"
    (cni,) = [r for r in consumer.resources if r.name == "cni" and r.type.startswith("kubernetes:helm.sh")]
    assert cni.urn in policy.dependencies, "the CiliumNetworkPolicy CRD comes with the CNI chart"
    (cm,) = consumer.by_type("kubernetes:core/v1:ConfigMapPatch")
    assert cni.urn in cm.dependencies
    assert consumer.outputs["policies"] == ["CiliumNetworkPolicy/default/web-out"]


def test_secrets_stay_secret(consumer: ProgramRun) -> None:
    assert "kubeconfig" in consumer.secret_outputs
    (provider,) = consumer.by_type("pulumi:providers:kubernetes")
    assert "kubeconfig" in provider.secret_inputs
    for cmd in consumer.by_type(COMMAND):
        assert "connection" in cmd.secret_inputs, cmd.name
        assert TEST_SSH_KEY not in cmd.inputs.get("stdin", ""), cmd.name


def test_its_own_config_moves_the_machine() -> None:
    r = run_consumer(address="192.168.50.9")
    (init,) = commands(r, "-init")
    assert init.inputs["connection"]["host"] == "192.168.50.9"
    assert r.outputs["apiEndpoint"] == "https://192.168.50.9:6443"


def test_the_consumer_needs_its_ssh_key() -> None:
    project = project_name()
    with pytest.raises(Exception, match="sshPrivateKey"):
        run(
            lambda: runpy.run_path(str(CONSUMER / "__main__.py"), run_name="__main__"),
            project=project,
            stack="edge",
        )


def test_its_requirements_point_at_this_checkout() -> None:
    lines = [x.strip() for x in (CONSUMER / "requirements.txt").read_text().splitlines()]
    assert "-e ../.." in lines
    assert (CONSUMER / Path("../..")).resolve() == ROOT


# --- the Python examples in docs/reuse.md -------------------------------------------

DOCS = ROOT / "docs" / "reuse.md"


def doc_example(name: str) -> str:
    """The ```python block right after `<!-- tested: name -->` in docs/reuse.md."""
    text = DOCS.read_text()
    marker = f"<!-- tested: {name} -->\n```python\n"
    assert marker in text, f"docs/reuse.md lost its {name!r} example"
    return text.split(marker, 1)[1].split("\n```", 1)[0]


def run_doc_example(name: str, project: str, **config: str) -> ProgramRun:
    code = compile(doc_example(name), f"docs/reuse.md:{name}", "exec")
    return run(
        lambda: exec(code, {"__name__": "__main__"}),
        config={f"{project}:{k}": v for k, v in config.items()},
        secret_keys=[f"{project}:{k}" for k in config],
        project=project,
        stack="dev",
        hooks=[host_answers],
    )


def test_doc_single_node_example() -> None:
    r = run_doc_example("single-node", "my-edge", sshPrivateKey=TEST_SSH_KEY)
    assert [c.name for c in commands(r, "-init")] == ["edge-box-init"] and commands(r, "-join") == []
    (provider,) = r.by_type("pulumi:providers:kubernetes")
    for res in r.resources:
        if res.type.startswith("kubernetes:"):
            assert res.provider_urn == provider.urn, res.name
    assert len(r.by_type("kubernetes:core/v1:ConfigMapPatch")) == 1 and len(r.by_type(CNP)) == 1
    assert "kubeconfig" in r.secret_outputs


def test_doc_existing_cluster_example() -> None:
    r = run_doc_example("existing-cluster", "my-lab", kubeconfig="apiVersion: v1\nkind: Config\n")
    assert not [x for x in r.resources if x.type.startswith("homelab:cluster") or x.type == COMMAND]
    (provider,) = r.by_type("pulumi:providers:kubernetes")
    assert provider.name == "existing" and provider.inputs["clusterIdentifier"] == "existing"
    assert "kubeconfig" in provider.secret_inputs
    kube = [x for x in r.resources if x.type.startswith("kubernetes:")]
    assert {x.type for x in kube} >= {"kubernetes:core/v1:ConfigMapPatch", CNP, "kubernetes:core/v1:Secret"}
    for res in kube:
        assert res.provider_urn == provider.urn, res.name
    (secret,) = r.by_type("kubernetes:core/v1:Secret")
    assert secret.inputs["type"] == "kubernetes.io/tls" and "stringData" in secret.secret_inputs
