"""The local mirror for real: a signed apt repository that apt accepts, and a registry that
holds exactly the images kubeadm asks for.

The apt test builds its packages from small stand-in programs, so it runs wherever dpkg,
gpg and apt exist; the rest needs the toolchain's binaries and skips, naming the command
that builds them, when they are missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.cluster.kubeadm_config import render_cluster
from tests.support.cluster_fixtures import single_spec
from tools.artifacts import toolchain
from tools.artifacts.aptrepo import SigningKey, build_repository
from tools.artifacts.debs import build_deb, dpkg_architecture, kubernetes_debs
from tools.artifacts.images import digest
from tools.artifacts.mirror import build, built_images, serve
from tools.artifacts.registry import RegistryClient, start_registry
from tools.artifacts.serve import FileServer

from .binaries import free_port

pytestmark = pytest.mark.realbin


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install dpkg-dev gnupg apt)")


def _need_toolchain(*outputs: str) -> toolchain.Toolchain:
    try:
        return toolchain.load(list(outputs))
    except toolchain.MissingBinary as exc:
        pytest.skip(f"real binaries missing: {exc}")


def apt_get(root: Path, repo_line: str, *args: str) -> subprocess.CompletedProcess[str]:
    """apt-get/apt-cache with every state file in `root`: the host's apt is untouched."""
    for d in ("lists/partial", "cache/archives/partial", "etc/sources.list.d", "etc/trusted.gpg.d"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "etc/sources.list").write_text(repo_line + "\n")
    (root / "status").touch()
    options = {
        "Dir::Etc::sourcelist": root / "etc/sources.list",
        "Dir::Etc::sourceparts": root / "etc/sources.list.d",
        "Dir::Etc::trustedparts": root / "etc/trusted.gpg.d",
        "Dir::State::Lists": root / "lists",
        "Dir::State::status": root / "status",
        "Dir::Cache": root / "cache",
        "Debug::NoLocking": "1",
        "APT::Sandbox::User": "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody"),
    }
    opts = [a for k, v in options.items() for a in ("-o", f"{k}={v}")]
    tool, *rest = args
    return subprocess.run([tool, *opts, *rest], capture_output=True, text=True, cwd=root, timeout=120)


def stand_in_binaries(tmp: Path) -> dict[str, Path]:
    bins = {}
    for name in ("kubelet", "kubeadm", "kubectl"):
        p = tmp / name
        p.write_text(f"#!/bin/sh\necho {name} stand-in\n")
        p.chmod(0o755)
        bins[name] = p
    return bins


def test_apt_accepts_the_signed_repository_and_refuses_another_key(tmp_path: Path) -> None:
    _need("dpkg-deb", "gpg", "apt-get", "apt-cache")
    arch = dpkg_architecture()
    debs = [build_deb(spec, tmp_path / "debs") for spec in kubernetes_debs(stand_in_binaries(tmp_path), "1.34.4", arch)]
    key = SigningKey.ensure(tmp_path / "gnupg")
    repo = tmp_path / "www" / "k8s/v1.34/deb"
    try:
        build_repository(repo, debs, key, label="test mirror", architecture=arch)
    finally:
        key.close()
    for name in ("Packages", "Packages.gz", "Release", "InRelease", "Release.gpg", "Release.key"):
        assert (repo / name).is_file(), name
    keyring = tmp_path / "mirror.asc"
    keyring.write_text((repo / "Release.key").read_text())

    server = FileServer(tmp_path / "www", "127.0.0.1", 0).start()
    try:
        line = f"deb [signed-by={keyring}] {server.url}/k8s/v1.34/deb/ /"
        update = apt_get(tmp_path / "apt", line, "apt-get", "update")
        assert update.returncode == 0 and "W:" not in update.stderr, update.stdout + update.stderr
        policy = apt_get(tmp_path / "apt", line, "apt-cache", "madison", "kubeadm")
        assert f"1.34.4-1.1 | {server.url}/k8s/v1.34/deb" in policy.stdout, policy.stdout
        fetched = apt_get(tmp_path / "apt", line, "apt-get", "download", "kubelet=1.34.4-1.1")
        assert fetched.returncode == 0, fetched.stderr
        got = tmp_path / "apt" / f"kubelet_1.34.4-1.1_{arch}.deb"
        assert hashlib.sha256(got.read_bytes()).digest() == hashlib.sha256((repo / got.name).read_bytes()).digest()
        info = subprocess.run(["dpkg-deb", "--contents", str(got)], capture_output=True, text=True, check=True)
        assert "./usr/bin/kubelet" in info.stdout and "./usr/lib/systemd/system/kubelet.service" in info.stdout

        # Another key (a mirror that is not the one the stack trusts): apt refuses it.
        other = SigningKey.ensure(tmp_path / "gnupg-other")
        wrong = tmp_path / "other.asc"
        wrong.write_text(other.public_armored())
        other.close()
        bad_line = f"deb [signed-by={wrong}] {server.url}/k8s/v1.34/deb/ /"
        refused = apt_get(tmp_path / "apt-bad", bad_line, "apt-get", "update")
        text = refused.stdout + refused.stderr
        assert "NO_PUBKEY" in text or "not signed" in text or "couldn't be verified" in text, text
        assert "kubeadm" not in apt_get(tmp_path / "apt-bad", bad_line, "apt-cache", "madison", "kubeadm").stdout
    finally:
        server.stop()


VERSION_ARGS = {"kubelet": ["--version"], "kubeadm": ["version", "-o", "short"], "kubectl": ["version", "--client"]}


def test_debs_from_the_toolchain_hold_the_built_binaries(tmp_path: Path) -> None:
    _need("dpkg-deb")
    tc = _need_toolchain("kubelet", "kubeadm", "kubectl")
    arch = dpkg_architecture()
    for spec in kubernetes_debs(tc.binaries, tc.kubernetes_version, arch):
        deb = build_deb(spec, tmp_path / "debs")
        tree = tmp_path / spec.name
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
        field = subprocess.run(["dpkg-deb", "--field", str(deb), "Version"], capture_output=True, text=True)
        assert field.stdout.strip() == f"{tc.kubernetes_version}-1.1"
        binary = tree / "usr/bin" / spec.name
        out = subprocess.run([str(binary), *VERSION_ARGS[spec.name]], capture_output=True, text=True, timeout=60)
        assert f"v{tc.kubernetes_version}" in out.stdout, (spec.name, out.stdout, out.stderr)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The whole mirror built and served on loopback, as the local machines use it."""
    _need("dpkg-deb", "gpg", "gcc")
    _need_toolchain(*toolchain.ITEMS)
    state = tmp_path_factory.mktemp("artifacts")
    build(state, log=lambda *_: None, with_previous=False)  # two releases: test_mirror_two_versions.py
    m = serve(state, "127.0.0.1", 0, free_port(), log=lambda *_: None)
    yield m
    m.stop()


def test_registry_holds_what_kubeadm_lists(mirror, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = mirror.info["imageRepository"]
    version = mirror.info["kubernetesVersion"]
    kubeadm = toolchain.find("kubeadm")
    assert kubeadm is not None
    # The project's own ClusterConfiguration with this image repository (kube-proxy disabled).
    spec = single_spec(kubernetes_version=version, image_repository=repo)
    config = tmp_path / "kubeadm-cluster.yaml"
    config.write_text(render_cluster(spec))
    listed = subprocess.run(
        [str(kubeadm), "config", "images", "list", "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    client = RegistryClient(f"http://{mirror.info['registry']}")
    present = {f"{repo.split('/', 1)[0]}/{name}:{tag}" for name in client.catalog() for tag in client.tags(name)}
    assert set(listed) == present
    assert f"{repo}/pause:3.10.1" in listed and f"{repo}/coredns:v1.12.1" in listed


def test_pulled_manifest_and_blobs_match_their_digests(mirror) -> None:  # type: ignore[no-untyped-def]
    client = RegistryClient(f"http://{mirror.info['registry']}")
    for name in client.catalog():
        for tag in client.tags(name):
            body, media_type = client.get_manifest(name, tag)
            assert media_type == "application/vnd.oci.image.manifest.v1+json"
            manifest = json.loads(body)
            config = client.get_blob(name, manifest["config"]["digest"])
            assert digest(config) == manifest["config"]["digest"]
            doc = json.loads(config)
            assert doc["os"] == "linux" and len(doc["rootfs"]["diff_ids"]) == 1
            if name.endswith("pause"):  # small enough to pull whole every run
                layer = client.get_blob(name, manifest["layers"][0]["digest"])
                assert digest(layer) == manifest["layers"][0]["digest"]


def test_serve_pushes_nothing_twice(mirror) -> None:  # type: ignore[no-untyped-def]
    client = RegistryClient(f"http://{mirror.info['registry']}")
    assert sum(client.push_image(image) for image in built_images(mirror.state)) == 0


def test_registry_starts_from_a_config_file(tmp_path: Path) -> None:
    tc = _need_toolchain("registry")
    proc = start_registry(tc.binaries["registry"], tmp_path / "reg", "127.0.0.1", free_port())
    try:
        client = RegistryClient(proc.url)
        blob = tmp_path / "blob"
        blob.write_bytes(b"hello")
        assert client.push_blob("t/x", digest(b"hello"), blob) is True
        assert client.push_blob("t/x", digest(b"hello"), blob) is False  # HEAD finds it
        assert client.get_blob("t/x", digest(b"hello")) == b"hello"
        assert yaml.safe_load((tmp_path / "reg/config.yml").read_text())["http"]["addr"].startswith("127.0.0.1:")
    finally:
        proc.stop()
