"""Build the local mirror (debs, signed apt repository, images) and serve it (HTTP + registry).

State directory layout:
  debs/                    kubelet/kubeadm/kubectl_<version>-1.1_<arch>.deb
  apt/k8s/v1.34/deb/       the flat repository per minor (aptRepository's {minor}); with the
                           previous Kubernetes built, apt/k8s/v1.33/deb/ too (upgrades)
  gnupg/                   the signing key, made on the first build and kept
  bin/pause                the static pause program
  blobs/                   image blobs by digest
  registry/                the registry's config, storage and log
  artifacts.json           what was built, with sizes and timings
  serve.json               where it is served (written by `serve`)
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.artifacts import toolchain
from tools.artifacts.aptrepo import SigningKey, build_repository
from tools.artifacts.debs import build_deb, cri_tools_deb, dpkg_architecture, kubernetes_debs
from tools.artifacts.images import COMPANIONS, BuiltImage, ImagePlan, build_image, plan_images
from tools.artifacts.pause import build_pause
from tools.artifacts.registry import RegistryClient, RegistryProcess, start_registry
from tools.artifacts.serve import FileServer

DEB_BINARIES = ["kubelet", "kubeadm", "kubectl"]
IMAGE_BINARIES = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "coredns"]
KUBE_IMAGE_BINARIES = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]  # one per release
IMAGE_PREFIX = "k8s"  # images live at <host:port>/k8s/<name>
PLAN_HOST = "mirror.invalid"  # kubeadm lists names for this stand-in host; the path part is what counts


def default_state_dir() -> Path:
    if env := os.environ.get("HOMELAB_ARTIFACTS_DIR"):
        return Path(env)
    return Path("/var/lib/homelab/artifacts") if os.geteuid() == 0 else Path.home() / ".cache/homelab/artifacts"


def minor_of(version: str) -> str:
    return ".".join(version.split(".")[:2])


def repo_path(version: str) -> str:
    """The repository's path on the HTTP server, per minor like pkgs.k8s.io."""
    return f"k8s/v{minor_of(version)}/deb/"


def cluster_configuration(version: str, image_repository: str) -> str:
    """What `kubeadm config images list --config` reads: the lab's defaults (no kube-proxy)."""
    return (
        "apiVersion: kubeadm.k8s.io/v1beta4\n"
        "kind: ClusterConfiguration\n"
        f"kubernetesVersion: v{version}\n"
        f"imageRepository: {image_repository}\n"
        "proxy:\n  disabled: true\n"
    )


def kubeadm_images(kubeadm: Path, config: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(config)
        f.flush()
        result = subprocess.run(
            [str(kubeadm), "config", "images", "list", "--config", f.name], capture_output=True, text=True
        )
    if result.returncode != 0:
        raise RuntimeError(f"kubeadm config images list failed: {result.stderr.strip()}")
    return result.stdout


@dataclass(frozen=True)
class Layout:
    state: Path

    @property
    def debs(self) -> Path:
        return self.state / "debs"

    @property
    def apt_root(self) -> Path:
        return self.state / "apt"

    @property
    def gnupg(self) -> Path:
        return self.state / "gnupg"

    @property
    def blobs(self) -> Path:
        return self.state / "blobs"

    @property
    def registry(self) -> Path:
        return self.state / "registry"

    @property
    def built(self) -> Path:
        return self.state / "artifacts.json"

    @property
    def served(self) -> Path:
        return self.state / "serve.json"


def _fresh(target: Path, sources: list[Path]) -> bool:
    return target.exists() and all(target.stat().st_mtime >= s.stat().st_mtime for s in sources)


def build(state: Path, log: Any = print, *, with_previous: bool = True) -> dict[str, Any]:
    """Everything `serve` needs, from the toolchain's binaries; returns (and writes) artifacts.json.

    `with_previous`: also the previous minor's packages and images when it is built
    (upgrades); tests that need one version leave it out and build less.
    """
    lay = Layout(state)
    state.mkdir(parents=True, exist_ok=True)
    tc = toolchain.load(DEB_BINARIES + IMAGE_BINARIES)
    version = tc.kubernetes_version
    arch = dpkg_architecture()
    report: dict[str, Any] = {"kubernetesVersion": version, "architecture": arch, "toolchain": tc.versions}
    # Releases served: the pinned one, and the minor before it when built (upgrades).
    releases: dict[str, dict[str, Path]] = {version: tc.binaries}
    prev = toolchain.previous(DEB_BINARIES + KUBE_IMAGE_BINARIES) if with_previous else None
    if prev is None and with_previous:
        log(f"artifacts: NO previous Kubernetes (for upgrades): {toolchain.PREVIOUS_BUILD}")
    elif prev is not None and prev.kubernetes_version != version:
        releases = {prev.kubernetes_version: {**tc.binaries, **prev.binaries}, **releases}
    report["kubernetesVersions"] = list(releases)

    t0 = time.monotonic()
    debs: list[dict[str, Any]] = []
    paths_by_minor: dict[str, list[Path]] = {}
    deb_specs = [(v, spec) for v, bins in releases.items() for spec in kubernetes_debs(bins, v, arch)]
    for release, spec in deb_specs:
        start = time.monotonic()
        target = lay.debs / spec.filename
        sources = [src for _, src in spec.binaries]
        reused = _fresh(target, sources)
        if not reused:
            target = build_deb(spec, lay.debs)
        paths_by_minor.setdefault(minor_of(release), []).append(target)
        debs.append(
            {
                "file": target.name,
                "bytes": target.stat().st_size,
                "seconds": round(time.monotonic() - start, 2),
                "reused": reused,
            }
        )
        log(f"artifacts: {target.name} ({target.stat().st_size / 1e6:.1f} MB){' (reused)' if reused else ''}")
    # cri-tools when a crictl was built (the cluster-config and etcd snapshot scripts use crictl).
    crictl = toolchain.find("crictl")
    cri_version = toolchain.crictl_version(crictl) if crictl else ""
    if not cri_version:
        log("artifacts: NO cri-tools package (no crictl built): scripts/toolchain --only cri-tools")
    if crictl and cri_version:
        spec = cri_tools_deb(crictl, cri_version, arch)
        target = lay.debs / spec.filename
        if not _fresh(target, [crictl]):
            target = build_deb(spec, lay.debs)
        for minor_paths in paths_by_minor.values():  # every minor's repository has it, as pkgs.k8s.io
            minor_paths.append(target)
        debs.append({"file": target.name, "bytes": target.stat().st_size, "seconds": 0.0, "reused": False})
    report["criTools"] = cri_version or None
    report["debs"] = debs
    report["debSeconds"] = round(time.monotonic() - t0, 2)

    t0 = time.monotonic()
    key = SigningKey.ensure(lay.gnupg)
    try:
        # One repository per minor, like pkgs.k8s.io ({minor} in aptRepository picks it).
        for minor, minor_paths in paths_by_minor.items():
            repo_dir = lay.apt_root / repo_path(minor + ".0")
            build_repository(repo_dir, minor_paths, key, label="homelab local Kubernetes mirror", architecture=arch)
        report["apt"] = {
            "path": repo_path(version),
            "paths": [repo_path(m + ".0") for m in paths_by_minor],
            "fingerprint": key.fingerprint(),
            "seconds": round(time.monotonic() - t0, 2),
        }
    finally:
        key.close()
    for path in report["apt"]["paths"]:
        log(f"artifacts: apt repository /{path} signed by {report['apt']['fingerprint']}")

    t0 = time.monotonic()
    pause = build_pause(state / "bin" / "pause")
    # Each release's images under kubeadm's names for it (etcd, CoreDNS and pause are the
    # toolchain's one build of each, under whatever tag that kubeadm expects).
    work: list[tuple[ImagePlan, dict[str, Path]]] = []
    unknown: list[str] = []
    for release, bins in releases.items():
        binaries = {**bins, "pause": pause}
        listing = kubeadm_images(binaries["kubeadm"], cluster_configuration(release, f"{PLAN_HOST}/{IMAGE_PREFIX}"))
        versions = {
            "kube-apiserver": release,
            "kube-controller-manager": release,
            "kube-scheduler": release,
            "etcd": tc.versions.get("etcd", ""),
            "coredns": tc.versions.get("coredns", ""),
            "pause": "homelab",
        }
        plans, missing = plan_images(listing, versions)
        known = {p.reference for p, _ in work}
        work += [(p, binaries) for p in plans if p.reference not in known]
        unknown += [m for m in missing if m not in unknown]
    images = []
    for plan, binaries in work:
        start = time.monotonic()
        companions, absent = image_companions(plan.binary)
        if absent:
            log(f"artifacts: image {plan.repository} WITHOUT {', '.join(absent)} (not built): "
                f"scripts/toolchain --only {','.join(sorted({toolchain.ITEMS[a] for a in absent}))}")  # fmt: skip
        image = build_image(plan, binaries[plan.binary], lay.blobs, architecture=arch, companions=companions)
        images.append(_image_record(image, round(time.monotonic() - start, 2)) | {"companions": sorted(companions)})
        log(f"artifacts: image {plan.repository}:{plan.tag} ({image.size / 1e6:.1f} MB)")
    report["images"] = images
    report["imagesNotBuilt"] = unknown
    report["imageSeconds"] = round(time.monotonic() - t0, 2)
    lay.built.write_text(json.dumps(report, indent=2) + "\n")
    return report


def image_companions(binary: str) -> tuple[dict[str, Path], list[str]]:
    """The built companions of an image's binary by path in the image, and those not built."""
    found: dict[str, Path] = {}
    absent: list[str] = []
    for name, path in COMPANIONS.get(binary, {}).items():
        src = toolchain.find(name)
        if src is None:
            absent.append(name)
        else:
            found[path] = src
    return found, absent


def _image_record(image: BuiltImage, seconds: float) -> dict[str, Any]:
    return {
        "repository": image.plan.repository,
        "tag": image.plan.tag,
        "binary": image.plan.binary,
        "path": image.plan.path,
        "version": image.plan.version,
        "manifest": image.manifest.decode(),
        "digest": image.manifest_digest,
        "blobs": {d: p.name for d, p in image.blobs.items()},
        "bytes": image.size,
        "seconds": seconds,
    }


def built_images(state: Path) -> list[BuiltImage]:
    lay = Layout(state)
    report = json.loads(lay.built.read_text())
    out = []
    for rec in report.get("images", []):
        plan = ImagePlan(
            reference=f"{PLAN_HOST}/{rec['repository']}:{rec['tag']}",
            binary=rec["binary"],
            path=rec["path"],
            version=rec["version"],
        )
        blobs = {d: lay.blobs / name for d, name in rec["blobs"].items()}
        out.append(BuiltImage(plan=plan, manifest=rec["manifest"].encode(), blobs=blobs))
    return out


def stack_config(address: str, apt_port: int, registry_port: int, signing_key: str) -> dict[str, Any]:
    """The stack keys that point a lab at this mirror (for config/Pulumi.local.yaml)."""
    registry = f"{address}:{registry_port}"
    return {
        "homelab:packages": {
            "aptRepository": f"http://{address}:{apt_port}/k8s/{{minor}}/deb/",
            "signingKey": signing_key,
        },
        "homelab:cluster": {
            "imageRepository": f"{registry}/{IMAGE_PREFIX}",
            "registries": [{"host": registry, "insecure": True}],
        },
    }


@dataclass
class Mirror:
    """The running mirror: the apt HTTP server and the registry, with the images pushed."""

    files: FileServer
    registry: RegistryProcess
    info: dict[str, Any]
    state: Path

    def stop(self) -> None:
        self.files.stop()
        self.registry.stop()


def serve(state: Path, address: str, apt_port: int, registry_port: int, log: Any = print) -> Mirror:
    """Start both servers on address (the bridge's, or 127.0.0.1) and push every built image."""
    lay = Layout(state)
    if not lay.built.exists():
        raise RuntimeError(f"nothing built in {state}: run `python -m tools.artifacts build` first")
    report = json.loads(lay.built.read_text())
    registry_bin = toolchain.load(["registry"]).binaries["registry"]
    files = FileServer(lay.apt_root, address, apt_port).start()
    try:
        registry = start_registry(registry_bin, lay.registry, address, registry_port)
    except Exception:
        files.stop()
        raise
    try:
        client = RegistryClient(registry.url)
        t0 = time.monotonic()
        sent = sum(client.push_image(image) for image in built_images(state))
        push_seconds = round(time.monotonic() - t0, 2)
        signing = SigningKey.ensure(lay.gnupg)
        key = signing.public_armored()
        signing.close()
        info = {
            "address": address,
            "aptUrl": f"{files.url}/{report['apt']['path']}",
            "registry": f"{address}:{registry_port}",
            "imageRepository": f"{address}:{registry_port}/{IMAGE_PREFIX}",
            "kubernetesVersion": report["kubernetesVersion"],
            "pushedBytes": sent,
            "pushSeconds": push_seconds,
            "pid": os.getpid(),
            "stackConfig": stack_config(address, files.port, registry_port, key),
        }
        lay.served.write_text(json.dumps(info, indent=2) + "\n")
        log(f"artifacts: apt at {info['aptUrl']}, images at {info['imageRepository']} ({sent / 1e6:.1f} MB pushed)")
        return Mirror(files, registry, info, state)
    except Exception:
        registry.stop()
        files.stop()
        raise
