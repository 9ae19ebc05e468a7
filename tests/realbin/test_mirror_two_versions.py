"""The local mirror with two Kubernetes releases (upgrades): one apt repository per minor, and
the images kubeadm lists for each release, built from the toolchain's binaries.

Skips, naming the command, when the previous release (scripts/toolchain's `-previous`
items) is not built.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.artifacts import toolchain
from tools.artifacts.mirror import DEB_BINARIES, IMAGE_BINARIES, KUBE_IMAGE_BINARIES, build, minor_of, repo_path

pytestmark = pytest.mark.realbin


def test_both_releases_are_served(tmp_path: Path) -> None:
    missing = [t for t in ("dpkg-deb", "gpg", "gcc") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install dpkg-dev gnupg gcc)")
    try:
        current = toolchain.load(DEB_BINARIES + IMAGE_BINARIES)
        previous = toolchain.previous(DEB_BINARIES + KUBE_IMAGE_BINARIES)
    except toolchain.MissingBinary as exc:
        pytest.skip(f"KUBERNETES BINARIES MISSING -- {exc}")
    if previous is None:
        pytest.skip(f"PREVIOUS KUBERNETES MISSING -- build it: {toolchain.PREVIOUS_BUILD}")
    report = build(tmp_path, log=lambda *_: None, with_previous=True)
    old, new = previous.kubernetes_version, current.kubernetes_version
    assert report["kubernetesVersions"] == [old, new]
    for version in (old, new):
        packages = (tmp_path / "apt" / repo_path(version) / "Packages").read_text()
        stanzas = [dict(line.split(": ", 1) for line in s.splitlines() if ": " in line) for s in packages.split("\n\n")]
        kube = {s["Version"] for s in stanzas if s.get("Package") in DEB_BINARIES}
        # Each minor's repository holds its own release only (pkgs.k8s.io's layout).
        assert kube == {f"{version}-1.1"}, (minor_of(version), kube)
    images = {(i["repository"], i["tag"]) for i in report["images"]}
    for version in (old, new):
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            assert (f"k8s/{name}", f"v{version}") in images
    # Each release's control plane image holds that release's binary, not the other's.
    apiservers = {i["tag"]: i["version"] for i in report["images"] if i["repository"] == "k8s/kube-apiserver"}
    assert apiservers == {f"v{old}": old, f"v{new}": new}
