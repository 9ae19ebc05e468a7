"""Rendering charts with the real helm."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from components import versions

from .binaries import require_tool, run
from .manifests import load_manifests


def helm_template(
    chart: Path | str,
    values: Mapping[str, Any] | None = None,
    *,
    release: str = "release",
    namespace: str = "default",
    kube_version: str = versions.DEFAULT_KUBERNETES_VERSION,
    api_versions: Sequence[str] = (),
    include_crds: bool = True,
    extra_args: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """`helm template` with the real helm; returns the rendered objects.

    Helm runs with private config/cache/data dirs, so nothing from the user's helm setup
    (repositories, plugins) leaks in and nothing is fetched.
    """
    helm = require_tool("helm")
    with tempfile.TemporaryDirectory(prefix="helm-") as tmp:
        t = Path(tmp)
        args: list[str | Path] = [
            helm,
            "template",
            release,
            chart,
            "--namespace",
            namespace,
            "--kube-version",
            kube_version,
        ]
        if values:
            (t / "values.yaml").write_text(yaml.safe_dump(dict(values)))
            args += ["-f", t / "values.yaml"]
        for av in api_versions:
            args += ["--api-versions", av]
        if include_crds:
            args.append("--include-crds")
        args += list(extra_args)
        env = {
            **os.environ,
            "HELM_CONFIG_HOME": str(t / "config"),
            "HELM_CACHE_HOME": str(t / "cache"),
            "HELM_DATA_HOME": str(t / "data"),
        }
        res = run(args, env=env)
    if not res.ok:
        raise RuntimeError(f"helm template {chart} failed ({res.returncode}):\n{res.stderr.strip()}")
    return load_manifests(res.stdout)
