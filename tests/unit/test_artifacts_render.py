"""The local mirror's pure renderers: deb control, apt indexes, OCI JSON, image plan, stack keys."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import yaml

from lab.settings import build_settings
from tools.artifacts.aptrepo import packages_stanza, release_text
from tools.artifacts.debs import KUBEADM_DROPIN, REVISION, control_text, cri_tools_deb, kubernetes_debs
from tools.artifacts.images import (
    COMPANIONS,
    LAYER_TYPE,
    MANIFEST_TYPE,
    ImagePlan,
    build_image,
    config_json,
    digest,
    layer_tar,
    manifest_json,
    plan_images,
)
from tools.artifacts.mirror import cluster_configuration, stack_config
from tools.artifacts.registry import registry_config

VERSION = "1.34.4"


def _debs(tmp_path: Path) -> dict[str, object]:
    bins = {}
    for name in ("kubelet", "kubeadm", "kubectl"):
        p = tmp_path / name
        p.write_bytes(b"\x7fELF" + name.encode() * 100)
        bins[name] = p
    return {d.name: d for d in kubernetes_debs(bins, VERSION, "amd64")}


def test_deb_control_is_pkgs_k8s_io_shaped(tmp_path: Path) -> None:
    debs = _debs(tmp_path)
    assert set(debs) == {"kubelet", "kubeadm", "kubectl"}
    kubelet = debs["kubelet"]
    text = control_text(kubelet, 12)  # type: ignore[arg-type]
    fields = dict(line.split(": ", 1) for line in text.splitlines() if not line.startswith(" "))
    assert fields["Package"] == "kubelet"
    assert fields["Version"] == f"{VERSION}-{REVISION}" and kubelet.filename == f"kubelet_{VERSION}-1.1_amd64.deb"  # type: ignore[attr-defined]
    assert fields["Architecture"] == "amd64" and fields["Installed-Size"] == "12"
    # Only packages a Debian host has in main: no kubernetes-cni, no cri-tools.
    depends = [d.split()[0] for d in fields["Depends"].split(", ")]
    assert "kubernetes-cni" not in depends and "cri-tools" not in depends and "mount" in depends
    assert "Depends" not in control_text(debs["kubeadm"], 1)  # type: ignore[arg-type]
    assert text.endswith("\n") and "\n\n" not in text


def test_kubeadm_dropin_runs_the_kubelet_with_kubeadms_files(tmp_path: Path) -> None:
    kubeadm = _debs(tmp_path)["kubeadm"]
    paths = {p for p, _, _ in kubeadm.texts}  # type: ignore[attr-defined]
    assert paths == {"/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"}
    exec_lines = [line for line in KUBEADM_DROPIN.splitlines() if line.startswith("ExecStart=")]
    assert exec_lines[0] == "ExecStart="  # resets the unit's own ExecStart
    for var in ("KUBELET_KUBECONFIG_ARGS", "KUBELET_CONFIG_ARGS", "KUBELET_KUBEADM_ARGS", "KUBELET_EXTRA_ARGS"):
        assert f"${var}" in exec_lines[1]
    assert "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env" in KUBEADM_DROPIN


def test_packages_stanza_and_release_digests() -> None:
    data = b"pretend deb"
    control = "Package: kubeadm\nVersion: 1.34.4-1.1\nArchitecture: amd64\nDescription: x\n more\n"
    stanza = packages_stanza(control, "kubeadm_1.34.4-1.1_amd64.deb", data)
    fields = dict(line.split(": ", 1) for line in stanza.splitlines() if not line.startswith(" "))
    assert fields["Filename"] == "kubeadm_1.34.4-1.1_amd64.deb"
    assert fields["Size"] == str(len(data)) and fields["SHA256"] == hashlib.sha256(data).hexdigest()
    assert stanza.splitlines()[-2:] == ["Description: x", " more"]  # description stays last

    files = {"Packages": stanza.encode(), "Packages.gz": b"\x1f\x8bzz"}
    release = release_text(files, label="L", date="Tue, 01 Dec 2026 00:00:00 GMT", architectures="amd64")
    sha_block = release.split("SHA256:\n", 1)[1].splitlines()
    for name, blob in files.items():
        assert f" {hashlib.sha256(blob).hexdigest()} {len(blob):>16} {name}" in sha_block


def test_image_plan_follows_kubeadms_list() -> None:
    listing = "\n".join(
        [
            "r.invalid/k8s/kube-apiserver:v1.34.4",
            "r.invalid/k8s/kube-controller-manager:v1.34.4",
            "r.invalid/k8s/kube-scheduler:v1.34.4",
            "r.invalid/k8s/kube-proxy:v1.34.4",
            "r.invalid/k8s/coredns:v1.12.1",
            "r.invalid/k8s/pause:3.10.1",
            "r.invalid/k8s/etcd:3.6.5-0",
        ]
    )
    plans, unknown = plan_images(listing, {"etcd": "3.6.6"})
    by_name = {p.binary: p for p in plans}
    assert unknown == ["r.invalid/k8s/kube-proxy:v1.34.4"]
    assert by_name["etcd"].repository == "k8s/etcd" and by_name["etcd"].tag == "3.6.5-0"
    assert by_name["etcd"].version == "3.6.6"
    # static pods call these by name: they must be on PATH
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        assert by_name[name].path == f"usr/local/bin/{name}"
    assert by_name["coredns"].entrypoint == ["/coredns"] and by_name["pause"].entrypoint == ["/pause"]


def test_layer_is_reproducible_and_holds_the_binary(tmp_path: Path) -> None:
    binary = tmp_path / "etcd"
    binary.write_bytes(b"#!/bin/true\n")
    one = layer_tar({"usr/local/bin/etcd": (binary, 0o755)})
    two = layer_tar({"usr/local/bin/etcd": (binary, 0o755)})
    assert one == two
    with tarfile.open(fileobj=io.BytesIO(one)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert members["usr/local/bin/etcd"].mode == 0o755 and members["usr/local/bin/etcd"].uid == 0
        assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
        assert members["usr/local/bin"].isdir()  # parents exist before their children
        names = [m.name for m in tar.getmembers()]
        assert names == sorted(names)


def test_oci_config_and_manifest() -> None:
    plan = ImagePlan("r.invalid/k8s/kube-apiserver:v1.34.4", "kube-apiserver", "usr/local/bin/kube-apiserver", "1.34.4")
    raw = b"layer tar"
    config = config_json(plan, digest(raw))
    doc = json.loads(config)
    assert (doc["os"], doc["architecture"]) == ("linux", "amd64")
    assert doc["rootfs"] == {"type": "layers", "diff_ids": [digest(raw)]}
    assert doc["config"]["Entrypoint"] == ["/usr/local/bin/kube-apiserver"]
    assert any(e.startswith("PATH=") and "/usr/local/bin" in e for e in doc["config"]["Env"])
    layer = b"gzipped"
    manifest = json.loads(manifest_json(config, layer))
    assert manifest["mediaType"] == MANIFEST_TYPE and manifest["schemaVersion"] == 2
    assert manifest["config"]["digest"] == "sha256:" + hashlib.sha256(config).hexdigest()
    assert manifest["config"]["size"] == len(config)
    assert manifest["layers"] == [{"mediaType": LAYER_TYPE, "digest": digest(layer), "size": len(layer)}]


def test_registry_config_listens_where_asked(tmp_path: Path) -> None:
    doc = yaml.safe_load(registry_config(tmp_path / "storage", "10.251.0.1", 5000))
    assert doc["http"]["addr"] == "10.251.0.1:5000"
    assert doc["storage"]["filesystem"]["rootdirectory"] == str(tmp_path / "storage")


def test_kubeadm_list_config_is_the_labs_default() -> None:
    doc = yaml.safe_load(cluster_configuration(VERSION, "r.invalid/k8s"))
    assert doc["kind"] == "ClusterConfiguration" and doc["kubernetesVersion"] == f"v{VERSION}"
    assert doc["imageRepository"] == "r.invalid/k8s" and doc["proxy"] == {"disabled": True}


def test_stack_config_is_a_valid_stack() -> None:
    key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nx\n-----END PGP PUBLIC KEY BLOCK-----\n"
    extra = stack_config("10.251.0.1", 8080, 5000, key)
    raw = {
        "lan": {"cidr": "10.251.0.0/24", "gateway": "10.251.0.1"},
        "cluster": {"kubernetesVersion": VERSION, **extra["homelab:cluster"]},
        "ssh": {"user": "root", "privateKey": "K"},
        "nodes": [{"name": "m1", "address": "10.251.0.11", "role": "control-plane"}],
        "packages": extra["homelab:packages"],
    }
    s = build_settings(raw, {"homelab:ssh"})
    assert s.cluster.packages.repository("1.34") == "http://10.251.0.1:8080/k8s/v1.34/deb/"
    assert s.cluster.image_repository == "10.251.0.1:5000/k8s"
    assert [(r.host, r.insecure) for r in s.cluster.registries] == [("10.251.0.1:5000", True)]
    assert not [w for w in s.warnings if w.key.startswith(("homelab:packages", "homelab:cluster"))]


def test_cri_tools_has_its_own_version(tmp_path: Path) -> None:
    crictl = tmp_path / "crictl"
    crictl.write_bytes(b"x")
    spec = cri_tools_deb(crictl, "1.34.0", "amd64")
    assert spec.filename == "cri-tools_1.34.0-1.1_amd64.deb"
    assert spec.binaries == (("/usr/bin/crictl", crictl),)


def test_etcd_image_carries_etcdctl_and_etcdutl(tmp_path: Path) -> None:
    # As registry.k8s.io's etcd image: the snapshot script runs both in the etcd container.
    bins = {name: tmp_path / name for name in ("etcd", "etcdctl", "etcdutl")}
    for name, path in bins.items():
        path.write_bytes(b"\x7fELF" + name.encode())
    plan = ImagePlan("r.invalid/k8s/etcd:3.6.5-0", "etcd", "usr/local/bin/etcd", "3.6.6")
    companions = {path: bins[name] for name, path in COMPANIONS["etcd"].items()}
    image = build_image(plan, bins["etcd"], tmp_path / "blobs", companions=companions)
    layer = json.loads(image.manifest)["layers"][0]["digest"]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(image.blobs[layer].read_bytes()))) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    for name in ("etcd", "etcdctl", "etcdutl"):
        assert files[f"usr/local/bin/{name}"] == b"\x7fELF" + name.encode()
    alone = build_image(plan, bins["etcd"], tmp_path / "blobs")
    assert alone.manifest_digest != image.manifest_digest
