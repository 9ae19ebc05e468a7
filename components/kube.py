"""Small helpers shared by the components that create Kubernetes objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s


def inherited_depends_on(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """The component's own depends_on, for its children: Python children don't inherit it."""
    deps = opts.depends_on if opts is not None else None
    if isinstance(deps, pulumi.Resource):
        return [deps]
    if isinstance(deps, list | tuple):
        return [d for d in deps if isinstance(d, pulumi.Resource)]
    return []


def create_custom(name: str, obj: dict[str, Any], opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    """A custom resource from a rendered manifest (apiVersion, kind, metadata, spec)."""
    return k8s.apiextensions.CustomResource(
        name, api_version=obj["apiVersion"], kind=obj["kind"], metadata=obj["metadata"], spec=obj["spec"], opts=opts
    )


class InvalidArguments(pulumi.RunError, ValueError):
    """A RunError: the Pulumi CLI prints its message alone, without a Python traceback."""


def refuse_invalid(component: str, problems: Sequence[object]) -> None:
    """Components check their own args too (they are reused without lab/): all problems at once."""
    if problems:
        raise InvalidArguments(f"{component}: invalid arguments:\n" + "\n".join(f"  - {p}" for p in problems))
