"""A version bump under the mock runtime: what a preview would show, and the rollout's order.

Two runs of the real __main__.py (1.33.13, then 1.34.5): a resource whose inputs differ
is what `pulumi preview` shows as changed (an ignored input aside), one whose `triggers`
differ would be replaced.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from tests.support.harness import ProgramRun, Registered, run_main
from tests.support.stacks import host_answers, stack_config

COMMAND = "command:remote:Command"
NODES = ["cp01", "cp02", "cp03", "worker01", "worker02"]


def _run(version: str) -> ProgramRun:
    config, secrets = stack_config("prod", dns=None)
    config["homelab:cluster"] = {**config["homelab:cluster"], "kubernetesVersion": version}
    return run_main(config=config, secret_keys=secrets, stack="prod", hooks=[host_answers])


def _changed(old: Registered, new: Registered) -> set[str]:
    ignored = set(new.options.get("ignore_changes") or [])
    keys = set(old.inputs) | set(new.inputs)
    return {k for k in keys if old.inputs.get(k) != new.inputs.get(k) and k not in ignored}


def _diff() -> tuple[dict[str, set[str]], ProgramRun]:
    before, after = _run("1.33.13"), _run("1.34.5")
    old = {r.urn: r for r in before.resources}
    new = {r.urn: r for r in after.resources}
    assert set(old) == set(new), "a version bump must add or remove no resource"
    changed = {new[u].name: keys for u in new if (keys := _changed(old[u], new[u]))}
    return changed, after


def test_a_version_bump_changes_only_the_upgrade_resources() -> None:
    changed, _ = _diff()
    upgrade_steps = {"lab-prod-cp01-upgrade-apply", "lab-prod-cp02-upgrade-node", "lab-prod-cp03-upgrade-node"}
    upgrade_steps |= {f"lab-prod-{n}-{step}" for n in NODES for step in ("drain", "kubelet", "uncordon")}
    # And the guard that refuses a step kubeadm cannot make, on the hosts.
    assert set(changed) == upgrade_steps | {"lab-prod-running-version"}
    assert all(keys == {"stdin"} for keys in changed.values()), changed  # no trigger: nothing is replaced
    # Not the prepare scripts (the release rides on their ignored command line), not the
    # uploaded configuration (it names what the API server runs), no re-init or re-join.


def test_prepare_takes_the_release_when_created_and_ignores_it_after() -> None:
    before, after = _run("1.33.13"), _run("1.34.5")
    old, new = _cmds(before)["lab-prod-worker01-prepare"], _cmds(after)["lab-prod-worker01-prepare"]
    assert "K8S_VERSION=1.33.13 " in old.inputs["create"] and "K8S_VERSION=1.34.5 " in new.inputs["create"]
    assert "create" in new.options["ignore_changes"] and old.inputs["stdin"] == new.inputs["stdin"]


def test_the_provider_and_kubernetes_resources_do_not_change() -> None:
    before, after = _run("1.33.13"), _run("1.34.5")
    old = {r.urn: r.inputs for r in before.resources if r.type != COMMAND}
    new = {r.urn: r.inputs for r in after.resources if r.type != COMMAND}
    assert old == new


def _cmds(run: ProgramRun) -> dict[str, Registered]:
    return {r.name: r for r in run.by_type(COMMAND)}


def test_the_rollout_is_one_chain_in_kubeadm_order() -> None:
    cmds = _cmds(_run("1.34.5"))
    chain = ["lab-prod-cp01-upgrade-apply", "lab-prod-cp02-upgrade-node", "lab-prod-cp03-upgrade-node"]
    for node in NODES:  # control planes first, one node at a time
        chain += [f"lab-prod-{node}-drain", f"lab-prod-{node}-kubelet", f"lab-prod-{node}-uncordon"]
    for earlier, later in zip(chain, chain[1:], strict=False):
        assert cmds[later].depends_on(cmds[earlier].urn), f"{later} does not wait for {earlier}"
    assert cmds["lab-prod-cp01-upgrade-apply"].depends_on(cmds["lab-prod-cp01-init"].urn)
    # The configuration (which names the version) is uploaded after kubeadm upgraded.
    assert cmds["lab-prod-cluster-config"].depends_on(cmds["lab-prod-cp01-upgrade-apply"].urn)
    hosts: dict[str, Any] = {n: cmds[f"lab-prod-{n}-prepare"].inputs["connection"]["host"] for n in NODES}
    for node in NODES:  # drain and uncordon run with the admin kubeconfig on the first control plane
        assert cmds[f"lab-prod-{node}-drain"].inputs["connection"]["host"] == hosts["cp01"]
        assert cmds[f"lab-prod-{node}-uncordon"].inputs["connection"]["host"] == hosts["cp01"]
        assert cmds[f"lab-prod-{node}-kubelet"].inputs["connection"]["host"] == hosts[node]
        assert cmds[f"lab-prod-{node}-drain"].depends_on(
            cmds[f"lab-prod-{node}-{'init' if node == 'cp01' else 'join'}"].urn
        )
    assert "kubeadm upgrade apply" in cmds["lab-prod-cp01-upgrade-apply"].inputs["stdin"]


def test_prepare_leaves_a_members_packages_to_the_upgrade_steps() -> None:
    cmds = _cmds(_run("1.34.5"))
    prepare = cmds["lab-prod-cp02-prepare"].inputs["stdin"]
    member = prepare.index("/etc/kubernetes/homelab/joined")
    assert member < prepare.index('"kubelet=$PKG_VERSION"')


def _run_after(running: str, requested: str) -> ProgramRun:
    """`requested` in the stack file, `running` in the outputs of the stack's last `up`."""
    config, secrets = stack_config("prod", dns=None)
    config["homelab:cluster"] = {**config["homelab:cluster"], "kubernetesVersion": requested}
    outputs = {"kubernetesVersion": running}
    return run_main(config=config, secret_keys=secrets, stack="prod", hooks=[host_answers], stack_outputs=outputs)


@pytest.mark.parametrize(
    ("running", "requested", "why"),
    [("1.32.9", "1.34.5", "skips a minor: the cluster runs 1.32.9"), ("1.34.5", "1.33.13", "older than 1.34.5")],
)
def test_a_step_kubeadm_cannot_make_is_refused_before_anything_is_registered(
    running: str, requested: str, why: str
) -> None:
    with pytest.raises(pulumi.RunError) as exc:
        _run_after(running, requested)
    message = str(exc.value)
    assert "homelab:cluster.kubernetesVersion" in message and why in message and requested in message
    assert exc.value.registered == []  # type: ignore[attr-defined]


def test_one_minor_up_is_allowed_and_the_new_version_is_exported() -> None:
    run = _run_after("1.33.13", "1.34.5")
    assert run.outputs["kubernetesVersion"] == "1.34.5"


def test_a_source_change_still_prepares_every_host_again() -> None:
    """Only the version is pinned at create: a new image repository or apt mirror re-runs
    the prepare (its sandbox image and repository follow), as the real repair test needs."""
    config, secrets = stack_config("prod", dns=None)
    before = _cmds(run_main(config=config, secret_keys=secrets, stack="prod", hooks=[host_answers]))
    config["homelab:cluster"] = {**config["homelab:cluster"], "imageRepository": "registry.home.lan/k8s"}
    config["homelab:packages"] = {"aptRepository": "https://mirror.home.lan/k8s/{minor}/deb/"}
    after = _cmds(run_main(config=config, secret_keys=secrets, stack="prod", hooks=[host_answers]))
    for node in NODES:
        old, new = before[f"lab-prod-{node}-prepare"].inputs, after[f"lab-prod-{node}-prepare"].inputs
        assert old["create"] == new["create"] and old["stdin"] != new["stdin"]
        assert "registry.home.lan/k8s" in new["stdin"] and "mirror.home.lan" in new["stdin"]
