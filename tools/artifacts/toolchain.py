"""The binaries scripts/toolchain built, and the versions it really built (it may substitute a patch)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUILD_COMMAND = "scripts/toolchain (or scripts/toolchain --only {item})"

# Toolchain output -> the toolchain item that builds it.
ITEMS: dict[str, str] = {
    "kubeadm": "kubernetes",
    "kube-apiserver": "kubernetes",
    "kubelet": "kubernetes-node",
    "kubectl": "kubernetes-node",
    "kube-controller-manager": "kubernetes-node",
    "kube-scheduler": "kubernetes-node",
    "etcd": "etcd",
    "etcdctl": "etcd-tools",
    "etcdutl": "etcd-tools",
    "crictl": "cri-tools",
    "coredns": "coredns",
    "registry": "registry",
}

# The minor before the pinned one (upgrades): scripts/toolchain's `-previous` items, whose
# outputs are named previous-<binary>. Optional: only the upgrade test and mirror use them.
PREVIOUS_ITEMS: dict[str, str] = {
    **{f"previous-{b}": "kubernetes-previous" for b in ("kubeadm", "kube-apiserver")},
    **{
        f"previous-{b}": "kubernetes-node-previous"
        for b in ("kubelet", "kubectl", "kube-controller-manager", "kube-scheduler")
    },
}
PREVIOUS_BUILD = "scripts/toolchain --only kubernetes-previous,kubernetes-node-previous"


# Used by the mirror when built, left out (loudly) when not: crictl (the cri-tools deb),
# etcdctl and etcdutl (in the etcd image).
OPTIONAL: dict[str, str] = {"crictl": "cri-tools", "etcdctl": "etcd-tools", "etcdutl": "etcd-tools"}


def crictl_version(crictl: Path) -> str:
    """`crictl --version` prints "crictl version v1.34.0"."""
    out = subprocess.run([str(crictl), "--version"], capture_output=True, text=True, timeout=30).stdout
    return out.split()[-1].removeprefix("v") if out.strip() else ""


class MissingBinary(RuntimeError):
    """A toolchain output is not built; the message names the command that builds it."""

    def __init__(self, missing: list[str], root: Path) -> None:
        self.missing = missing
        items = sorted({ITEMS.get(m, m) for m in missing})
        hint = "scripts/toolchain (or only these: " + ", ".join(f"scripts/toolchain --only {i}" for i in items) + ")"
        super().__init__(f"not built: {', '.join(missing)} (not in {root / 'manifest.json'}); build with {hint}")


def root() -> Path:
    """Same rule as scripts/toolchain: $HOMELAB_TOOLCHAIN_DIR, else $XDG_CACHE_HOME/homelab/toolchain."""
    if env := os.environ.get("HOMELAB_TOOLCHAIN_DIR"):
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "homelab" / "toolchain"


def manifest(base: Path | None = None) -> dict[str, Any]:
    path = Path(os.environ.get("HOMELAB_TOOLCHAIN_MANIFEST") or (base or root()) / "manifest.json")
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"items": {}, "env": {}}
    return data


def env_var(output: str) -> str:
    return "HOMELAB_" + output.upper().replace("-", "_")


def find(output: str, data: dict[str, Any] | None = None) -> Path | None:
    """A built output by name: $HOMELAB_<NAME>, else the manifest's env entry."""
    data = manifest() if data is None else data
    for candidate in (os.environ.get(env_var(output)), data.get("env", {}).get(env_var(output))):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


@dataclass(frozen=True)
class Toolchain:
    binaries: dict[str, Path]
    kubernetes_version: str  # X.Y.Z that was really built (kubeadm's item)
    versions: dict[str, str]  # item -> built version


def load(outputs: list[str]) -> Toolchain:
    """The named outputs, or MissingBinary naming every one that is missing."""
    data = manifest()
    found = {o: find(o, data) for o in outputs}
    missing = [o for o, p in found.items() if p is None]
    if missing:
        raise MissingBinary(missing, root())
    items = data.get("items", {})
    versions = {name: str(entry.get("version", "")).removeprefix("v") for name, entry in items.items()}
    k8s = versions.get("kubernetes-node") or versions.get("kubernetes") or ""
    if versions.get("kubernetes") and versions.get("kubernetes-node") and versions["kubernetes"] != k8s:
        raise RuntimeError(
            f"the toolchain built kubeadm {versions['kubernetes']} but kubelet {k8s}: rebuild one of them"
        )
    return Toolchain({o: p for o, p in found.items() if p is not None}, k8s, versions)


def previous(outputs: list[str]) -> Toolchain | None:
    """The previous Kubernetes' binaries (by their plain names), or None when any is not built."""
    data = manifest()
    found = {o: find(f"previous-{o}", data) for o in outputs}
    if any(p is None for p in found.values()):
        return None
    items = data.get("items", {})
    versions = {n: str(items.get(n, {}).get("version", "")).removeprefix("v") for n in PREVIOUS_ITEMS.values()}
    k8s = versions.get("kubernetes-node-previous", "")
    if versions.get("kubernetes-previous") != k8s or not k8s:
        raise RuntimeError(
            f"the toolchain built previous kubeadm {versions.get('kubernetes-previous')} but kubelet {k8s}: "
            f"rebuild them ({PREVIOUS_BUILD})"
        )
    return Toolchain({o: p for o, p in found.items() if p is not None}, k8s, versions)
