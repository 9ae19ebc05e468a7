"""The whole lab's settings, built from stack config before any resource exists."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.cluster.model import ClusterSpec
from components.validation import Problem, Problems
from lab.cluster import parse_cluster
from lab.context import LabContext

PROJECT = "homelab"
KEYS = ("lan", "cluster", "ssh", "nodes", "network", "loadBalancer", "dns", "egress", "tls")


@dataclass(frozen=True)
class LabSettings:
    cluster: ClusterSpec
    context: LabContext
    warnings: tuple[Problem, ...] = ()


def read_stack_config(project: str = PROJECT) -> tuple[dict[str, Any], set[str]]:
    """Raw values of this project's top-level keys (JSON decoded) and the secret ones."""
    raw: dict[str, Any] = {}
    secret: set[str] = set()
    for key in KEYS:
        full = f"{project}:{key}"
        value = pulumi.runtime.get_config(full)
        if value is None:
            continue
        try:
            raw[key] = json.loads(value)
        except (TypeError, ValueError):
            raw[key] = value
        if pulumi.runtime.is_config_secret(full):
            secret.add(full)
    return raw, secret


def build_settings(raw: Mapping[str, Any], secret_keys: set[str]) -> LabSettings:
    """Validate everything; raise ConfigError listing every problem with its key."""
    problems = Problems()
    unknown = sorted(set(raw) - set(KEYS))
    for key in unknown:
        problems.error(f"{PROJECT}:{key}", f"unknown key (known: {', '.join(KEYS)})")
    cluster = parse_cluster(
        raw.get("lan"), raw.get("cluster"), raw.get("ssh"), raw.get("nodes", []), secret_keys, problems
    )
    problems.raise_if_any()
    assert cluster.spec is not None  # no errors means a complete spec
    return LabSettings(cluster=cluster.spec, context=cluster.context, warnings=tuple(problems.warnings))


def load(project: str = PROJECT) -> LabSettings:
    raw, secret = read_stack_config(project)
    return build_settings(raw, secret)
