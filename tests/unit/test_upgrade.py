"""Upgrades: the version-skew rule (Python and its shell twin) and the host scripts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.cluster import upgrade as u
from components.cluster.model import ClusterSpec, NodeSpec, PackageSource, SshAccess


def _spec(version: str = "1.35.0", **packages: str) -> ClusterSpec:
    ssh = SshAccess(user="lab", private_key="k")
    return ClusterSpec(
        name="lab",
        kubernetes_version=version,
        nodes=(
            NodeSpec(name="cp01", address="10.0.0.11", role="control-plane", ssh=ssh),
            NodeSpec(name="worker01", address="10.0.0.21", role="worker", ssh=ssh),
        ),
        pod_cidr="10.244.0.0/16",
        service_cidr="10.96.0.0/12",
        endpoint="10.0.0.11",
        vip=False,
        packages=PackageSource(**packages),
    )


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


def _bash_n(script: str) -> None:
    res = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr


def test_scripts_are_bash_and_in_kubeadm_order() -> None:
    spec = _spec()
    first = u.upgrade_first_control_plane_script(spec)
    # The new kubeadm is installed before it plans; plan before apply; the log line after.
    assert first.index("at_version kubeadm || pin kubeadm") < first.index('kubeadm upgrade plan $ignore "v1.35.0"')
    assert first.index("kubeadm upgrade plan") < first.index('kubeadm upgrade apply -y $ignore "v1.35.0"')
    assert first.index("kubeadm upgrade apply") < first.index(u.UPGRADE_LOG)
    for script in (
        first,
        u.upgrade_other_control_plane_script(spec),
        u.drain_script("worker01", "1.35.0"),
        u.kubelet_script(spec, "worker01", control_plane=False),
        u.kubelet_script(spec, "cp01", control_plane=True),
        u.kubelet_script(spec, "cp01", control_plane=True, managed=False),
        u.uncordon_script("worker01", "1.35.0"),
    ):
        _bash_n(script)
    assert "kubectl drain worker01 --ignore-daemonsets" in u.drain_script("worker01", "1.35.0")
    uncordon = u.uncordon_script("worker01", "1.35.0")
    assert uncordon.index("kubeletVersion") < uncordon.index("kubectl uncordon worker01")
    # A worker refreshes its kubelet config (kubeadm upgrade node) before the kubelet restarts.
    worker = u.kubelet_script(spec, "worker01", control_plane=False)
    assert worker.index("\nupgrade_node\n") < worker.index("pin kubelet kubectl")
    assert worker.index("pin kubelet kubectl") < worker.index("systemctl restart kubelet")
    assert "\nupgrade_node\n" not in u.kubelet_script(spec, "cp01", control_plane=True)


def test_package_source_follows_the_new_minor() -> None:
    spec = _spec("1.35.0", apt_repository="http://mirror.lan/k8s/{minor}/deb/")
    script = u.upgrade_first_control_plane_script(spec)
    assert "K8S_REPO=http://mirror.lan/k8s/v1.35/deb/\n" in script
    assert 'K8S_VERSION="1.35.0"' in script


def _fake_host(tmp_path: Path, running: str | None) -> Path:
    manifest = tmp_path / "kube-apiserver.yaml"
    if running:
        manifest.write_text(
            "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command: [kube-apiserver]\n"
            f"    image: registry.local:5000/k8s/kube-apiserver:v{running}\n    name: kube-apiserver\n"
        )
    return manifest


@pytest.mark.parametrize(
    ("running", "requested"),
    [
        (None, "1.35.0"),  # a new machine: no API server manifest yet
        ("1.34.5", "1.34.5"),
        ("1.34.5", "1.35.0"),  # one minor: the upgrade steps run
        ("1.34.5", "1.34.6"),
        ("1.33.4", "1.35.0"),
        ("1.35.0", "1.34.5"),
        ("1.34.5", "1.34.4"),
        ("1.34.10", "1.34.9"),  # versions compare as numbers, not text
        ("1.34.9", "1.34.10"),
        ("1.34.5", "2.0.0"),
    ],
)
def test_guard_script_applies_the_python_rule_on_the_host(running: str | None, requested: str, tmp_path: Path) -> None:
    script = u.running_version_script(requested, manifest=str(_fake_host(tmp_path, running)))
    res = subprocess.run(["bash", "-s"], input=script, capture_output=True, text=True, check=False)
    assert f"running={running or ''}\n" in res.stdout
    expected = u.version_step_problem(running, requested)
    if expected is None:
        assert res.returncode == 0, res.stderr
        assert ("upgrading to" in res.stdout) == bool(running and running != requested)
    else:
        assert res.returncode == 1
        assert res.stderr.strip() == f"homelab:cluster.kubernetesVersion: {expected}"


@pytest.mark.parametrize(
    ("tags", "done"),
    [
        ({"kube-apiserver": "1.35.0", "kube-controller-manager": "1.35.0", "kube-scheduler": "1.35.0"}, True),
        # `kubeadm upgrade apply` stopped after the API server: not done, it runs again.
        ({"kube-apiserver": "1.35.0", "kube-controller-manager": "1.34.5", "kube-scheduler": "1.34.5"}, False),
        ({"kube-apiserver": "1.35.0", "kube-controller-manager": "1.35.0"}, False),
        ({"kube-apiserver": "1.35.01", "kube-controller-manager": "1.35.0", "kube-scheduler": "1.35.0"}, False),
    ],
)
def test_a_half_done_control_plane_upgrade_is_not_taken_for_done(
    tags: dict[str, str], done: bool, tmp_path: Path
) -> None:
    for name, tag in tags.items():
        (tmp_path / f"{name}.yaml").write_text(f"spec:\n  containers:\n  - image: reg.lan:5000/k8s/{name}:v{tag}\n")
    script = u.step_rule_lines(manifest=str(tmp_path / "kube-apiserver.yaml")) + 'control_plane_at "1.35.0"\n'
    res = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert (res.returncode == 0) == done, res.stderr
