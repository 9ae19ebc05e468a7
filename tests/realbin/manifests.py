"""YAML manifests: parsing, and the CRDs the toolchain extracted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .binaries import require_tool


def load_manifests(text: str) -> list[dict[str, Any]]:
    """Parse multi-document YAML into objects, dropping empty docs and expanding Lists."""
    out: list[dict[str, Any]] = []
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        if isinstance(doc, dict) and doc.get("kind", "").endswith("List") and "items" in doc:
            out.extend(doc["items"] or [])
        else:
            out.append(doc)
    return out


def load_manifest_dir(directory: Path) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for f in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        objs += load_manifests(f.read_text())
    return objs


def cilium_crds() -> list[dict[str, Any]]:
    return load_manifest_dir(require_tool("cilium-crds"))


def metallb_crds() -> list[dict[str, Any]]:
    return load_manifest_dir(require_tool("metallb-crds"))
