"""Host scripts: shellcheck-clean, idempotent guards present, secrets never on a command line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.cluster import host_scripts as hs
from components.cluster.kube_vip import kube_vip_pod
from components.cluster.kubeadm_config import render_init, render_join
from tests.support.cluster_fixtures import ha_spec, single_spec
from tests.support.schema import validate_builtin
from tests.unit.test_package_sources import released

SPEC = ha_spec()
FIRST, CP2, WORKER = SPEC.nodes[0], SPEC.nodes[1], SPEC.nodes[3]
JOIN = render_join(SPEC, CP2, token="abcdef.0123456789abcdef", ca_cert_hash="sha256:aa", certificate_key="k")

SCRIPTS = {
    "prepare": hs.prepare_script(SPEC),
    "init": hs.init_script(SPEC, render_init(SPEC), {"/etc/kubernetes/homelab/authentication.yaml": "kind: X\n"}),
    "init-single": hs.init_script(single_spec(), render_init(single_spec()), {}),
    "cluster-config": hs.cluster_config_script(SPEC, render_init(SPEC), {}),
    "apiserver-files": hs.apiserver_files_script({"/etc/kubernetes/homelab/a.yaml": "a: 1\n"}),
    "join-info-cp": hs.join_info_script(CP2),
    "join-info-worker": hs.join_info_script(WORKER),
    "join-cp": hs.join_script(SPEC, CP2, JOIN, {}),
    "reset": hs.reset_script(WORKER),
    "drain": hs.drain_script(WORKER),
    "kubeconfig": hs.kubeconfig_script(),
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_shellcheck_clean(name: str) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck; .ci/run installs it)")
    result = subprocess.run(
        ["shellcheck", "--shell=bash", "--severity=style", "-"],
        input=SCRIPTS[name],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_bash_parses(name: str) -> None:
    subprocess.run(["bash", "-n"], input=SCRIPTS[name], text=True, check=True)


def test_prepare_pins_and_holds_packages() -> None:
    s = SCRIPTS["prepare"]
    assert "K8S_VERSION=1.34.5\n" in s
    # The default source is pkgs.k8s.io for the minor, with its Release.key, as always.
    got = released(SPEC)
    assert got["K8S_REPO"] == "https://pkgs.k8s.io/core:/stable:/v1.34/deb/"
    assert got["K8S_KEY_URL"] == "https://pkgs.k8s.io/core:/stable:/v1.34/deb/Release.key"
    assert "apt-mark hold kubelet kubeadm kubectl" in s
    assert "SystemdCgroup = true" in s
    assert "swapoff -a" in s
    assert "br_netfilter" in s and "net.ipv4.ip_forward = 1" in s


def test_init_is_guarded_and_retries_after_failure() -> None:
    s = SCRIPTS["init"]
    guard = s.index(f"if [ -f {hs.INIT_MARKER} ]")
    reset = s.index("kubeadm reset -f")
    init = s.index("kubeadm init --config")
    marker = s.index(f"touch {hs.INIT_MARKER}")
    assert guard < reset < init < marker
    assert "--upload-certs" in s


def test_init_writes_kube_vip_with_super_admin_then_admin() -> None:
    s = SCRIPTS["init"]
    init = s.index("kubeadm init --config")
    assert s.index("/etc/kubernetes/super-admin.conf") < init < s.rindex("path: /etc/kubernetes/admin.conf")
    assert "kube-vip" not in SCRIPTS["init-single"]


def test_join_removes_its_token_and_is_guarded() -> None:
    s = SCRIPTS["join-cp"]
    assert s.index(f"if [ -f {hs.JOIN_MARKER} ]") < s.index("kubeadm join --config")
    assert "trap 'rm -f /etc/kubernetes/homelab/kubeadm-join.yaml' EXIT" in s
    assert "kube-vip" in s  # a joining control plane also runs kube-vip


def test_join_info_certificate_key_only_for_control_planes() -> None:
    assert "upload-certs" in SCRIPTS["join-info-cp"]
    assert "upload-certs" not in SCRIPTS["join-info-worker"]


def test_write_file_refuses_terminator() -> None:
    with pytest.raises(ValueError, match="terminator"):
        hs.write_file("/x", "a\nHOMELAB_EOF\nb")


def test_write_file_is_verbatim(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.yaml"
    content = "a: $HOME `x` \\n\n"
    subprocess.run(["bash", "-c", hs.write_file(str(target), content)], check=True)
    assert target.read_text() == content  # quoted heredoc: nothing expanded
    assert oct(target.stat().st_mode & 0o777) == "0o600"


def test_sudo_bash_c_quotes_script() -> None:
    line = hs.sudo_bash_c("echo 'a b'; echo $HOME")
    out = subprocess.run(["bash", "-c", line.replace("sudo -n ", "")], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[0] == "a b"


def test_kube_vip_pod_is_valid() -> None:
    pod = kube_vip_pod(SPEC)
    validate_builtin(pod)
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["address"] == "192.168.2.10" and env["vip_arp"] == "true" and env["port"] == "6443"
    assert (
        yaml.safe_load(
            hs.init_script(SPEC, "x: 1\n", {}).split("kube-vip.yaml.tmp <<'HOMELAB_EOF'\n")[1].split("HOMELAB_EOF")[0]
        )["kind"]
        == "Pod"
    )


def test_cluster_config_names_what_the_api_server_runs(tmp_path: Path) -> None:
    """The uploaded ClusterConfiguration takes its version on the host (so a version bump
    leaves this script unchanged); the placeholder line is YAML until then."""
    script = SCRIPTS["cluster-config"]
    assert f"kubernetesVersion: v{SPEC.kubernetes_version}" not in script
    manifest = tmp_path / "kube-apiserver.yaml"
    manifest.write_text("spec:\n  containers:\n  - image: 10.0.0.1:5000/k8s/kube-apiserver:v1.33.13\n")
    config = tmp_path / "kubeadm-init.yaml"
    config.write_text(render_init(SPEC).replace(f"kubernetesVersion: v{SPEC.kubernetes_version}",
                                                'kubernetesVersion: "@RUNNING_VERSION@"'))  # fmt: skip
    yaml.safe_load_all(config.read_text())
    lines = [line for line in script.splitlines() if line.startswith(("running=", 'sed -i "s/'))]
    body = "\n".join(lines).replace(hs.APISERVER_MANIFEST, str(manifest)).replace(hs.INIT_CONFIG, str(config))
    subprocess.run(["bash", "-euc", body], check=True)
    docs = list(yaml.safe_load_all(config.read_text()))
    assert [d["kubernetesVersion"] for d in docs if d.get("kind") == "ClusterConfiguration"] == ["v1.33.13"]
