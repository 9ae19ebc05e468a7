"""Upgrades: the version-skew rule and the scripts (not wired into the component yet)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.cluster import upgrade as u


@pytest.mark.parametrize(
    ("current", "requested"),
    [(None, "1.35.0"), ("1.34.5", "1.34.5"), ("1.34.1", "1.34.5"), ("1.34.5", "1.35.0"), ("v1.34.5", "1.35.2")],
)
def test_allowed_steps(current: str | None, requested: str) -> None:
    assert u.version_step_problem(current, requested) is None


def test_skipped_minor_names_both_versions() -> None:
    why = u.version_step_problem("1.33.4", "1.35.0")
    assert why is not None and "1.35.0 skips a minor" in why and "runs 1.33.4" in why and "1.34.x first" in why


@pytest.mark.parametrize(("current", "requested"), [("1.35.0", "1.34.5"), ("1.34.5", "1.34.4")])
def test_downgrades_are_refused(current: str, requested: str) -> None:
    why = u.version_step_problem(current, requested)
    assert why is not None and "does not downgrade" in why and current in why and requested in why


def test_scripts_are_bash_and_in_kubeadm_order() -> None:
    first = u.upgrade_first_control_plane_script("1.35.0")
    assert first.index('kubeadm upgrade plan "v1.35.0"') < first.index('kubeadm upgrade apply -y "v1.35.0"')
    for script in (
        first,
        u.upgrade_other_control_plane_script(),
        u.drain_script("worker01"),
        u.uncordon_script("worker01", "1.35.0"),
    ):
        assert subprocess.run(["bash", "-n"], input=script, text=True, check=False).returncode == 0
    assert "kubectl drain worker01 --ignore-daemonsets" in u.drain_script("worker01")
    uncordon = u.uncordon_script("worker01", "1.35.0")
    assert uncordon.index("kubeletVersion") < uncordon.index("kubectl uncordon worker01")


@pytest.mark.parametrize(
    ("running", "requested"),
    [
        (None, "1.35.0"),  # a new machine: no API server manifest yet
        ("1.34.5", "1.34.5"),
        ("1.34.5", "1.35.0"),  # one minor: allowed by the rule, but not automated yet
        ("1.34.5", "1.34.6"),
        ("1.33.4", "1.35.0"),
        ("1.35.0", "1.34.5"),
        ("1.34.5", "1.34.4"),
        ("1.34.10", "1.34.9"),  # versions compare as numbers, not text
    ],
)
def test_guard_script_applies_the_python_rule_on_the_host(running: str | None, requested: str, tmp_path: Path) -> None:
    manifest = tmp_path / "kube-apiserver.yaml"
    if running:
        manifest.write_text(
            "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command: [kube-apiserver]\n"
            f"    image: registry.local:5000/k8s/kube-apiserver:v{running}\n    name: kube-apiserver\n"
        )
    script = u.running_version_script(requested, manifest=str(manifest))
    res = subprocess.run(["bash", "-s"], input=script, capture_output=True, text=True, check=False)
    assert f"running={running or ''}\n" in res.stdout
    expected = u.version_change_problem(running, requested)
    if expected is None:
        assert res.returncode == 0, res.stderr
    else:
        assert res.returncode == 1
        assert res.stderr.strip() == f"homelab:cluster.kubernetesVersion: {expected}"
