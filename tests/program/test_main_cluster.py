"""The real __main__.py under mocks, for both example stacks: the cluster's resource graph."""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pytest

from tests.support.harness import ProgramRun, Registered, run_main
from tests.support.stacks import STACKS, TEST_SSH_KEY, host_answers, raw_stack, stack_config

COMMAND = "command:remote:Command"


def run_stack(stack: str, **overrides: Any) -> ProgramRun:
    config, secrets = stack_config(stack, **overrides)
    return run_main(config=config, secret_keys=secrets, stack=stack, hooks=[host_answers])


@pytest.fixture(scope="module", params=STACKS)
def stack_run(request: pytest.FixtureRequest) -> tuple[str, ProgramRun]:
    return request.param, run_stack(request.param)


def closure(run: ProgramRun, r: Registered) -> set[str]:
    """Every URN `r` depends on, directly or through others."""
    index = run.by_urn()

    def direct(x: Registered) -> list[str]:
        # A resource also waits for its provider, which the engine creates first.
        deps = list(x.dependencies) + [u for d in x.property_dependencies.values() for u in d]
        return deps + ([x.provider_urn] if x.provider_urn else [])

    seen: set[str] = set()
    todo = direct(r)
    while todo:
        urn = todo.pop()
        if urn in seen:
            continue
        seen.add(urn)
        if urn in index:
            todo += direct(index[urn])
    return seen


def commands(run: ProgramRun, suffix: str) -> list[Registered]:
    return [r for r in run.by_type(COMMAND) if r.name.endswith(suffix)]


def test_one_init_on_the_first_control_plane(stack_run: tuple[str, ProgramRun]) -> None:
    stack, run = stack_run
    (init,) = commands(run, "-init")
    assert init.name.endswith("cp01-init")
    assert init.inputs["connection"]["host"] == "192.168.2.11"
    assert "kubeadm init --config" in init.inputs["stdin"]
    assert "ignore_changes" in init.options and init.options["ignore_changes"] == ["stdin"]


def test_joins_depend_on_init(stack_run: tuple[str, ProgramRun]) -> None:
    stack, run = stack_run
    (init,) = commands(run, "-init")
    joins = commands(run, "-join")
    nodes = raw_stack(stack)["nodes"]
    assert len(joins) == len(nodes) - 1
    for join in joins:
        assert init.urn in closure(run, join), f"{join.name} does not wait for kubeadm init"


def test_control_planes_join_one_at_a_time() -> None:
    run = run_stack("prod")
    by_name = {r.name: r for r in run.by_type(COMMAND)}
    assert by_name["lab-prod-cp02-join"].urn in by_name["lab-prod-cp03-join"].dependencies
    assert by_name["lab-prod-cp02-join"].urn not in by_name["lab-prod-worker01-join"].dependencies


def test_every_kubernetes_resource_uses_the_cluster_provider(stack_run: tuple[str, ProgramRun]) -> None:
    _, run = stack_run
    providers = run.by_type("pulumi:providers:kubernetes")
    assert len(providers) == 1
    provider = providers[0]
    assert provider.inputs["clusterIdentifier"] == raw_stack(stack_run[0])["cluster"]["name"]
    k8s = [r for r in run.resources if r.type.startswith("kubernetes:")]
    for r in k8s:
        assert r.provider_urn == provider.urn, f"{r.type} {r.name} uses {r.provider_urn or 'the default provider'}"


def test_secrets_stay_secret(stack_run: tuple[str, ProgramRun]) -> None:
    _, run = stack_run
    for cmd in run.by_type(COMMAND):
        assert "connection" in cmd.secret_inputs, f"{cmd.name}: SSH connection (private key) is not secret"
        assert cmd.inputs["connection"]["privateKey"] == TEST_SSH_KEY
        assert TEST_SSH_KEY not in cmd.inputs.get("stdin", ""), cmd.name
    for cmd in commands(run, "-join-token") + commands(run, "-kubeconfig") + commands(run, "-init"):
        assert {"stdout", "stderr"} <= set(cmd.additional_secret_outputs), cmd.name
        assert cmd.inputs["logging"] == "none", cmd.name
    for join in commands(run, "-join"):
        assert "stdin" in join.secret_inputs, f"{join.name}: the join script carries a token"
        assert "abcdef.0123456789abcdef" in join.inputs["stdin"]
    (provider,) = run.by_type("pulumi:providers:kubernetes")
    assert "kubeconfig" in provider.secret_inputs
    assert "kubeconfig" in run.secret_outputs
    assert "caCertificate" not in run.secret_outputs
    assert "BEGIN CERTIFICATE" in run.outputs["caCertificate"]


def test_outputs(stack_run: tuple[str, ProgramRun]) -> None:
    stack, run = stack_run
    nodes = raw_stack(stack)["nodes"]
    assert [n["name"] for n in run.outputs["nodes"]] == [n["name"] for n in nodes]
    endpoint = raw_stack(stack)["cluster"].get("endpoint", "192.168.2.11")
    assert run.outputs["apiEndpoint"] == f"https://{endpoint}:6443"


def test_removal_drains_and_resets(stack_run: tuple[str, ProgramRun]) -> None:
    _, run = stack_run
    for join in commands(run, "-join"):
        assert "kubeadm reset -f" in join.inputs["delete"]
        node = join.name.rsplit("-join", 1)[0]
        (member,) = [r for r in run.by_type(COMMAND) if r.name == f"{node}-membership"]
        assert "kubectl drain" in member.inputs["delete"] and "kubectl delete node" in member.inputs["delete"]
        assert join.urn in member.dependencies  # deleted first: drain before reset


def _inputs_by_name(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in run.resources}


def test_adding_a_worker_touches_only_that_worker() -> None:
    nodes = copy.deepcopy(raw_stack("prod")["nodes"]) + [{"name": "worker03", "address": "192.168.2.23"}]
    before, after = _inputs_by_name(run_stack("prod")), _inputs_by_name(run_stack("prod", nodes=nodes))
    added = set(after) - set(before)
    assert added and all("worker03" in name for name in added), added
    changed = {n for n in before if before[n] != after[n]}
    assert changed == set(), changed


def test_adding_a_control_plane_touches_that_node_and_the_cluster_config() -> None:
    nodes = copy.deepcopy(raw_stack("prod")["nodes"])
    nodes.insert(3, {"name": "cp04", "address": "192.168.2.14", "role": "control-plane"})
    before, after = _inputs_by_name(run_stack("prod")), _inputs_by_name(run_stack("prod", nodes=nodes))
    assert all("cp04" in name for name in set(after) - set(before))
    changed = {n for n in before if before[n] != after[n]}
    # certSANs grow; init itself ignores later config changes (ignore_changes)
    assert changed <= {"lab-prod-cluster-config", "lab-prod-cp01-init"}, changed
    assert "192.168.2.14" in after["lab-prod-cluster-config"]["stdin"]


def test_prepare_opt_out() -> None:
    nodes = copy.deepcopy(raw_stack("dev")["nodes"])
    nodes[1]["prepare"] = False
    run = run_stack("dev", nodes=nodes)
    names = {r.name for r in run.by_type(COMMAND)}
    assert "lab-dev-cp01-prepare" in names and "lab-dev-worker01-prepare" not in names


def test_invalid_config_registers_nothing() -> None:
    nodes = copy.deepcopy(raw_stack("dev")["nodes"])
    nodes[1]["address"] = "10.9.9.9"
    with pytest.raises(pulumi.RunError) as exc:
        run_stack("dev", nodes=nodes, cluster={"kubernetesVersion": "9.9"})
    message = str(exc.value)
    assert "homelab:nodes[1].address" in message and "homelab:cluster.kubernetesVersion" in message


def test_invalid_config_leaves_no_resource() -> None:
    with pytest.raises(pulumi.RunError) as exc:
        run_stack("dev", lan={"cidr": "nonsense"})
    assert exc.value.registered == []  # type: ignore[attr-defined]
