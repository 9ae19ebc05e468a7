"""homelab:packages and cluster.imageRepository/registries: validation, and what the hosts get.

The keys end up in three places: the prepare script (apt source, key, containerd config,
hosts.toml), kubeadm's ClusterConfiguration, and the plugin's inputs.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.cluster import host_scripts as hs
from components.cluster.containerd import config_edits, hosts_toml, pause_image, registry_files
from components.cluster.kubeadm_config import render_init
from components.cluster.model import PKGS_K8S_IO, PackageSource, RegistryHost
from components.validation import ConfigError
from lab.settings import build_settings
from plugin.cluster import cluster_spec
from tests.support.cluster_fixtures import single_spec

KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ0000BYJKwYBBAHaRw8BAQdA\n-----END PGP PUBLIC KEY BLOCK-----\n"
CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
MIRROR = single_spec(
    packages=PackageSource(apt_repository="http://10.251.0.1:8080/k8s/{minor}/deb/", signing_key=KEY),
    image_repository="10.251.0.1:5000/k8s",
    registries=(RegistryHost("10.251.0.1:5000", insecure=True), RegistryHost("registry.home.lan", ca_cert=CA)),
)


def base() -> dict[str, Any]:
    return {
        "lan": {"cidr": "192.168.2.0/24", "gateway": "192.168.2.1"},
        "cluster": {"kubernetesVersion": "1.34.5"},
        "ssh": {"user": "lab", "privateKey": "KEY"},
        "nodes": [{"name": "cp01", "address": "192.168.2.11", "role": "control-plane"}],
    }


def settings(**sections: Any) -> Any:
    raw = copy.deepcopy(base())
    for key, value in sections.items():
        if key == "cluster":
            raw["cluster"].update(value)
        else:
            raw[key] = value
    return build_settings(raw, {"homelab:ssh"})


def problems(**sections: Any) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        settings(**sections)
    return [str(p) for p in exc.value.problems]


# --- settings -------------------------------------------------------------------------------


def test_defaults_are_pkgs_k8s_io_and_registry_k8s_io() -> None:
    spec = settings().cluster
    assert spec.packages == PackageSource()
    assert spec.packages.repository("1.34") == "https://pkgs.k8s.io/core:/stable:/v1.34/deb/"
    assert spec.packages.key_url("1.34") == "https://pkgs.k8s.io/core:/stable:/v1.34/deb/Release.key"
    assert spec.image_repository == "" and spec.registries == ()
    assert pause_image(spec) == "registry.k8s.io/pause:3.10.1"


def test_mirror_keys_are_parsed(tmp_path: Path) -> None:
    key_file = tmp_path / "mirror.asc"
    key_file.write_text(KEY)
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(CA)
    s = settings(
        packages={
            "aptRepository": "http://10.251.0.1:8080/k8s/{minor}/deb",
            "signingKeyPath": str(key_file),
            "packageVersion": "1.34.5-1.1",
        },
        cluster={
            "imageRepository": "10.251.0.1:5000/k8s",
            "registries": [
                {"host": "10.251.0.1:5000", "insecure": True},
                {"host": "registry.home.lan", "caCertPath": str(ca_file)},
            ],
        },
    )
    pkgs = s.cluster.packages
    assert pkgs.repository("1.34") == "http://10.251.0.1:8080/k8s/v1.34/deb/"  # trailing slash added
    assert pkgs.signing_key == KEY and pkgs.key_url("1.34") == ""
    assert pkgs.package_version == "1.34.5-1.1"
    assert s.cluster.image_repository == "10.251.0.1:5000/k8s"
    assert s.cluster.registries == (
        RegistryHost("10.251.0.1:5000", True, ""),
        RegistryHost("registry.home.lan", False, CA),
    )
    assert not [w for w in s.warnings if "registries" in w.key or "imageRepository" in w.key]


def test_every_problem_at_once_with_its_key() -> None:
    found = problems(
        packages={
            "aptRepository": "ftp://mirror/{major}/",
            "signingKey": "not a key",
            "signingKeyUrl": "https://mirror/key",
            "packageVersion": "1.33.1-1.1",
            "extra": 1,
        },
        cluster={
            "imageRepository": "http://10.251.0.1:5000/k8s",
            "registries": [
                {"host": "https://10.251.0.1:5000"},
                {"host": "reg.lan", "insecure": True, "caCert": CA},
                {"host": "reg.lan", "caCert": "nope"},
            ],
        },
    )
    expected = [
        "homelab:packages.extra: unknown setting",
        "homelab:packages.aptRepository: 'ftp://mirror/{major}/' is not an http:// or https:// URL",
        "homelab:packages.signingKeyUrl: give one of",
        "homelab:packages.signingKey: must be an ASCII-armored OpenPGP public key",
        "homelab:packages.packageVersion: '1.33.1-1.1' is not a package of Kubernetes 1.34.5",
        "homelab:cluster.imageRepository: 'http://10.251.0.1:5000/k8s' must not have a scheme",
        "homelab:cluster.registries[0].host: 'https://10.251.0.1:5000' must be host[:port]",
        "homelab:cluster.registries[1].caCert: a CA certificate is for HTTPS; insecure: true means plain HTTP",
        "homelab:cluster.registries[2].host: 'reg.lan' is already homelab:cluster.registries[1]",
        "homelab:cluster.registries[2].caCert: must be a PEM certificate",
    ]
    for prefix in expected:
        assert any(p.startswith(prefix) for p in found), (prefix, found)


def test_placeholder_other_than_minor_is_refused() -> None:
    found = problems(packages={"aptRepository": "https://mirror.lan/{version}/"})
    assert any("the only placeholder is {minor}" in p for p in found), found


def test_unreadable_key_and_ca_files_are_named(tmp_path: Path) -> None:
    found = problems(
        packages={"signingKeyPath": str(tmp_path / "missing.asc")},
        cluster={"registries": [{"host": "reg.lan", "caCertPath": str(tmp_path / "missing.crt")}]},
    )
    assert any(p.startswith("homelab:packages.signingKeyPath: cannot read the signing key file") for p in found)
    assert any(p.startswith("homelab:cluster.registries[0].caCertPath: cannot read the CA") for p in found)


def test_mirror_without_key_or_registry_entry_warns() -> None:
    s = settings(packages={"aptRepository": "https://mirror.lan/k8s/"}, cluster={"imageRepository": "10.0.0.5:5000"})
    messages = {w.key: w.message for w in s.warnings}
    assert "hosts fetch https://mirror.lan/k8s/Release.key" in messages["homelab:packages.signingKeyUrl"]
    assert "10.0.0.5:5000 has no entry" in messages["homelab:cluster.imageRepository"]


# --- what the hosts get ---------------------------------------------------------------------

RELEASED = ("K8S_REPO", "K8S_KEY_URL", "K8S_PKG_VERSION", "PAUSE_IMAGE")


def released(spec: Any, version: str | None = None) -> dict[str, str]:
    """What release_lines makes of $K8S_VERSION on a host, run by bash."""
    script = f"K8S_VERSION={version or spec.kubernetes_version}\n" + hs.release_lines(spec)
    script += 'printf "%s\\n" ' + " ".join(f'"${k}"' for k in RELEASED) + "\n"
    out = subprocess.run(["bash", "-euc", script], capture_output=True, text=True, check=True).stdout
    return dict(zip(RELEASED, out.split("\n"), strict=False))


@pytest.mark.parametrize("version", ["1.31.4", "1.33.13", "1.34.5", "1.35.0"])
def test_the_host_derives_the_release_as_the_program_would(version: str) -> None:
    for spec in (single_spec(), MIRROR):
        at = replace(spec, kubernetes_version=version)
        minor = version.rsplit(".", 1)[0]
        assert released(at) == {
            "K8S_REPO": at.packages.repository(minor),
            "K8S_KEY_URL": at.packages.key_url(minor),
            "K8S_PKG_VERSION": at.packages.package_version or "",
            "PAUSE_IMAGE": pause_image(at),
        }


def test_default_prepare_keeps_pkgs_k8s_io_and_its_key() -> None:
    s = hs.prepare_script(single_spec())
    assert released(single_spec())["K8S_REPO"] == PKGS_K8S_IO.replace("{minor}", "v1.34")
    assert 'curl -fsSL "$K8S_KEY_URL" | gpg --dearmor --yes -o "$K8S_KEYRING"' in s
    assert "K8S_KEYRING=/etc/apt/keyrings/kubernetes-apt-keyring.gpg\n" in s
    assert "KEY_TOOLS='curl gpg'\n" in s
    assert "kubernetes-apt-keyring.asc" not in s and "hosts.toml.tmp" not in s
    # pkgs.k8s.io has both; kubeadm >= 1.32 no longer depends on cri-tools, the scripts use crictl
    assert "for pkg in kubernetes-cni cri-tools; do" in s


def test_mirror_prepare_writes_key_source_and_registries() -> None:
    s = hs.prepare_script(MIRROR)
    got = released(MIRROR)
    assert got["K8S_REPO"] == "http://10.251.0.1:8080/k8s/v1.34/deb/" and got["K8S_KEY_URL"] == ""
    assert 'KEY_TOOLS=""\n' in s
    assert "K8S_KEYRING=/etc/apt/keyrings/kubernetes-apt-keyring.asc\n" in s
    assert f"cat > /etc/apt/keyrings/kubernetes-apt-keyring.asc.tmp <<'HOMELAB_EOF'\n{KEY}HOMELAB_EOF\n" in s
    assert got["PAUSE_IMAGE"] == "10.251.0.1:5000/k8s/pause:3.10.1"
    assert '"\\"$PAUSE_IMAGE\\""' in s  # checked in the written config
    assert "cat > /etc/containerd/certs.d/10.251.0.1:5000/hosts.toml.tmp" in s
    assert "cat > /etc/containerd/certs.d/registry.home.lan/ca.crt.tmp" in s
    assert "homelab_registries=' 10.251.0.1:5000 registry.home.lan '" in s


@pytest.mark.parametrize("spec", [single_spec(), MIRROR], ids=["default", "mirror"])
def test_prepare_is_shellcheck_clean(spec: Any) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    result = subprocess.run(
        ["shellcheck", "--shell=bash", "--severity=style", "-"],
        input=hs.prepare_script(spec),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_hosts_toml_plain_http_and_private_ca() -> None:
    plain = tomllib.loads(hosts_toml(RegistryHost("10.251.0.1:5000", insecure=True)))
    assert plain == {
        "server": "http://10.251.0.1:5000",
        "host": {"http://10.251.0.1:5000": {"capabilities": ["pull", "resolve"]}},
    }
    private = tomllib.loads(hosts_toml(RegistryHost("registry.home.lan", ca_cert=CA)))
    assert private["server"] == "https://registry.home.lan"
    assert private["host"]["https://registry.home.lan"]["ca"] == "/etc/containerd/certs.d/registry.home.lan/ca.crt"
    assert set(registry_files(MIRROR)) == {
        "/etc/containerd/certs.d/10.251.0.1:5000/hosts.toml",
        "/etc/containerd/certs.d/registry.home.lan/hosts.toml",
        "/etc/containerd/certs.d/registry.home.lan/ca.crt",
    }


# containerd 1.6's `config default` (Debian 12), the lines the edits must find.
CONTAINERD_16 = """version = 2
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.6"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = ""
"""
# containerd 2.x (config version 3).
CONTAINERD_20 = """version = 3
[plugins]
  [plugins.'io.containerd.cri.v1.images']
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = 'registry.k8s.io/pause:3.10'
    [plugins.'io.containerd.cri.v1.images'.registry]
      config_path = ''
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
    SystemdCgroup = false
"""


@pytest.mark.parametrize("default", [CONTAINERD_16, CONTAINERD_20], ids=["v2", "v3"])
def test_containerd_edits_apply_to_both_config_versions(default: str) -> None:
    argv = ["sed", "-E"] + [a for e in config_edits(MIRROR) for a in ("-e", e)]
    edited = subprocess.run(argv, input=default, capture_output=True, text=True, check=True).stdout
    doc = tomllib.loads(edited)
    flat = repr(doc)
    assert "'SystemdCgroup': True" in flat
    assert "'10.251.0.1:5000/k8s/pause:3.10.1'" in flat and "pause:3.6" not in flat
    assert "'config_path': '/etc/containerd/certs.d'" in flat


def test_kubeadm_image_repository() -> None:
    docs = list(yaml.safe_load_all(render_init(MIRROR)))
    cluster = next(d for d in docs if d["kind"] == "ClusterConfiguration")
    assert cluster["imageRepository"] == "10.251.0.1:5000/k8s"
    default = next(d for d in yaml.safe_load_all(render_init(single_spec())) if d["kind"] == "ClusterConfiguration")
    assert "imageRepository" not in default  # kubeadm's own default, registry.k8s.io


# --- the plugin's inputs ---------------------------------------------------------------------


def plugin_args(**extra: Any) -> dict[str, Any]:
    return {
        "nodes": [{"name": "cp01", "address": "192.168.2.11", "role": "control-plane"}],
        "ssh": {"user": "lab"},
        "ssh_private_key": "KEY",
        **extra,
    }


def test_plugin_inputs_reach_the_spec() -> None:
    spec = cluster_spec(
        plugin_args(
            packages={"apt_repository": "http://10.251.0.1:8080/k8s/{minor}/deb", "signing_key": KEY},
            image_repository="10.251.0.1:5000/k8s",
            registries=[{"host": "10.251.0.1:5000", "insecure": True}],
        ),
        "lab",
    )
    assert spec.packages.repository("1.34") == "http://10.251.0.1:8080/k8s/v1.34/deb/"
    assert spec.packages.signing_key == KEY
    assert spec.image_repository == "10.251.0.1:5000/k8s"
    assert spec.registries == (RegistryHost("10.251.0.1:5000", True, ""),)
    assert cluster_spec(plugin_args(), "lab").packages == PackageSource()


def test_plugin_inputs_are_checked() -> None:
    with pytest.raises(Exception) as exc:
        cluster_spec(
            plugin_args(
                packages={"apt_repository": "mirror.lan", "signing_key": "x", "signing_key_url": "https://k"},
                image_repository="Mirror.lan/K8S",
                registries=[{"host": "a/b"}],
            ),
            "lab",
        )
    text = str(exc.value)
    for key in ("packages.aptRepository", "packages.signingKey", "imageRepository", "registries[0].host"):
        assert key in text, (key, text)
