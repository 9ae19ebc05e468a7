"""The previous Kubernetes of the toolchain (upgrades): found by its own output names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.artifacts import toolchain

BINARIES = ["kubeadm", "kubelet", "kubectl", "kube-apiserver"]


def _manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, items: dict[str, str], outputs: list[str]) -> None:
    env = {}
    # Only this manifest counts: none of the real toolchain's HOMELAB_* (CI exports them).
    for name in (*BINARIES, *(f"previous-{b}" for b in BINARIES)):
        monkeypatch.delenv(toolchain.env_var(name), raising=False)
    for name in outputs:
        path = tmp_path / name
        path.write_text("#!/bin/sh\n")
        env[toolchain.env_var(name)] = str(path)
        monkeypatch.delenv(toolchain.env_var(name), raising=False)
    data = {"items": {k: {"version": v} for k, v in items.items()}, "env": env}
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    monkeypatch.setenv("HOMELAB_TOOLCHAIN_MANIFEST", str(tmp_path / "manifest.json"))


def test_previous_binaries_by_their_plain_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items = {"kubernetes": "1.34.5", "kubernetes-previous": "1.33.13", "kubernetes-node-previous": "1.33.13"}
    _manifest(tmp_path, monkeypatch, items, ["kubeadm", *(f"previous-{b}" for b in BINARIES)])
    prev = toolchain.previous(BINARIES)
    assert prev is not None and prev.kubernetes_version == "1.33.13"
    assert prev.binaries["kubeadm"] == tmp_path / "previous-kubeadm"  # not the current kubeadm
    assert set(prev.binaries) == set(BINARIES)


def test_no_previous_when_any_binary_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items = {"kubernetes-previous": "1.33.13"}
    _manifest(tmp_path, monkeypatch, items, ["previous-kubeadm", "previous-kube-apiserver"])
    assert toolchain.previous(BINARIES) is None
    assert "kubernetes-previous,kubernetes-node-previous" in toolchain.PREVIOUS_BUILD


def test_mismatched_previous_builds_are_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items = {"kubernetes-previous": "1.33.13", "kubernetes-node-previous": "1.33.12"}
    _manifest(tmp_path, monkeypatch, items, [f"previous-{b}" for b in BINARIES])
    with pytest.raises(RuntimeError, match="1.33.13 but kubelet 1.33.12"):
        toolchain.previous(BINARIES)
