"""OCI images made from the built binaries: one reproducible layer each, no docker.

Which images, and under which names and tags, is kubeadm's answer
(`kubeadm config images list --config <ClusterConfiguration>`): `plan_images` maps
each name it prints to the binary that image must hold.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GZIP_LEVEL = 6

# Minimal files every image gets: Go programs want /tmp, and a user database helps
# anything that looks up uid 0 or 65534.
BASE_FILES: dict[str, tuple[bytes, int]] = {
    "etc/passwd": (
        b"root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
        0o644,
    ),
    "etc/group": (b"root:x:0:\nnogroup:x:65534:\n", 0o644),
    "etc/nsswitch.conf": (b"hosts: files dns\n", 0o644),
}
BASE_DIRS: dict[str, int] = {"etc": 0o755, "tmp": 0o1777, "root": 0o700, "usr": 0o755, "usr/local": 0o755}


@dataclass(frozen=True)
class ImagePlan:
    """One image to build: its reference (as kubeadm names it), which binary, where it goes."""

    reference: str  # e.g. 10.251.0.1:5000/k8s/kube-apiserver:v1.34.5
    binary: str  # toolchain output name (kube-apiserver, etcd, coredns, pause)
    path: str  # where the binary lives in the image, e.g. usr/local/bin/kube-apiserver
    version: str  # what the binary really is (a label; the tag is kubeadm's)

    @property
    def repository(self) -> str:
        """The reference without registry host and tag: k8s/kube-apiserver."""
        name = self.reference.rsplit(":", 1)[0]
        return name.split("/", 1)[1]

    @property
    def tag(self) -> str:
        return self.reference.rsplit(":", 1)[1]

    @property
    def entrypoint(self) -> list[str]:
        return ["/" + self.path]


# kubeadm's static pods call the control-plane programs by name (`command: [kube-apiserver, ...]`),
# so those live on PATH; CoreDNS and pause run as their image's entrypoint.
LAYOUT: dict[str, str] = {
    "kube-apiserver": "usr/local/bin/kube-apiserver",
    "kube-controller-manager": "usr/local/bin/kube-controller-manager",
    "kube-scheduler": "usr/local/bin/kube-scheduler",
    "etcd": "usr/local/bin/etcd",
    "coredns": "coredns",
    "pause": "pause",
}


# Programs an image carries beside its main binary, as upstream's does: registry.k8s.io's
# etcd image has etcdctl and etcdutl, and the snapshot script runs them in the etcd
# container (`crictl exec`). Toolchain output -> path in the image.
COMPANIONS: dict[str, dict[str, str]] = {
    "etcd": {"etcdctl": "usr/local/bin/etcdctl", "etcdutl": "usr/local/bin/etcdutl"},
}


def plan_images(kubeadm_list: str, versions: dict[str, str]) -> tuple[list[ImagePlan], list[str]]:
    """Images to build from kubeadm's list, and the references no built binary can fill."""
    plans: list[ImagePlan] = []
    unknown: list[str] = []
    for ref in (line.strip() for line in kubeadm_list.splitlines()):
        if not ref:
            continue
        name = ref.rsplit(":", 1)[0].rsplit("/", 1)[-1]
        if name in LAYOUT:
            plans.append(ImagePlan(reference=ref, binary=name, path=LAYOUT[name], version=versions.get(name, "")))
        else:
            unknown.append(ref)
    return plans, unknown


def _info(name: str, mode: int, size: int = 0, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def layer_tar(files: dict[str, tuple[Path | bytes, int]]) -> bytes:
    """An uncompressed, reproducible layer: sorted entries, root-owned, mtime 0."""
    dirs = dict(BASE_DIRS)
    for path in files:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.setdefault("/".join(parts[:i]), 0o755)
    entries: dict[str, tuple[Path | bytes, int] | int] = {**dirs, **BASE_FILES, **files}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            value = entries[name]
            if isinstance(value, int):
                tar.addfile(_info(name, value, kind=tarfile.DIRTYPE))
                continue
            content, mode = value
            data = content.read_bytes() if isinstance(content, Path) else content
            tar.addfile(_info(name, mode, len(data)), io.BytesIO(data))
    return buf.getvalue()


def compress(layer: bytes) -> bytes:
    return gzip.compress(layer, compresslevel=GZIP_LEVEL, mtime=0)


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_json(plan: ImagePlan, diff_id: str, architecture: str = "amd64") -> bytes:
    """The image config: platform, the layer's diff_id, entrypoint, PATH."""
    config: dict[str, Any] = {
        "architecture": architecture,
        "os": "linux",
        "config": {
            "Env": [PATH_ENV],
            "Entrypoint": plan.entrypoint,
            "WorkingDir": "/",
            "Labels": {
                "org.opencontainers.image.title": plan.binary,
                "org.opencontainers.image.version": plan.version,
                "org.opencontainers.image.source": "homelab tools/artifacts (built from the toolchain's binaries)",
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": f"homelab tools/artifacts: {plan.binary} at /{plan.path}"}],
    }
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def manifest_json(config: bytes, layer: bytes) -> bytes:
    """An OCI image manifest for one config blob and one gzip layer."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": LAYER_TYPE, "digest": digest(layer), "size": len(layer)}],
    }
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class BuiltImage:
    plan: ImagePlan
    manifest: bytes
    blobs: dict[str, Path]  # digest -> file holding it (config and layer)

    @property
    def manifest_digest(self) -> str:
        return digest(self.manifest)

    @property
    def size(self) -> int:
        return sum(p.stat().st_size for p in self.blobs.values())


def build_image(
    plan: ImagePlan,
    binary: Path,
    blob_dir: Path,
    architecture: str = "amd64",
    companions: dict[str, Path] | None = None,
) -> BuiltImage:
    """Layer + config + manifest for one plan; blobs stored by digest (reused when unchanged).

    `companions`: more programs in the same layer, by their path in the image.
    """
    blob_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[Path | bytes, int]] = {plan.path: (binary, 0o755)}
    files.update({path: (src, 0o755) for path, src in (companions or {}).items()})
    raw = layer_tar(files)
    diff_id = digest(raw)
    # The gzip stream is reproducible too, but compressing 100 MB costs seconds: keep
    # the compressed layer by its diff_id.
    cached = blob_dir / f"layer-of-{diff_id.split(':')[1]}"
    layer = b""
    if cached.exists():
        known = blob_dir / cached.read_text().strip().split(":")[1]
        if known.exists():
            layer = known.read_bytes()
            if digest(layer) != cached.read_text().strip():
                layer = b""
    if not layer:
        layer = compress(raw)
        (blob_dir / digest(layer).split(":")[1]).write_bytes(layer)
        cached.write_text(digest(layer) + "\n")
    layer_digest = digest(layer)
    config = config_json(plan, diff_id, architecture)
    (blob_dir / digest(config).split(":")[1]).write_bytes(config)
    manifest = manifest_json(config, layer)
    blobs = {
        digest(config): blob_dir / digest(config).split(":")[1],
        layer_digest: blob_dir / layer_digest.split(":")[1],
    }
    return BuiltImage(plan=plan, manifest=manifest, blobs=blobs)
