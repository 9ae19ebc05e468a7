"""Namespaces: make sure the namespaces other components write into exist.

Egress policies, TLS Secrets and LAN attachments are namespaced objects; the API
server refuses them in a namespace that does not exist. Each namespace is ensured
once, however many components name it, by a NamespacePatch: server-side apply
creates the namespace when it is missing and only labels it when it exists. Removing
it from the stack gives the label up and never deletes the namespace (which would
delete every workload in it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import AfterValidator

from components.kube import inherited_depends_on, refuse_invalid
from components.model import Flag, Model, problem
from components.validation import DNS1123_LABEL

# Kubernetes makes these itself; they are never created, labelled or patched.
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
# The same label the egress policies and TLS Secrets carry.
MANAGED_BY = {"app.kubernetes.io/managed-by": "homelab"}
PATCH_FORCE = "pulumi.com/patchForce"


def _namespace_name(name: str) -> str:
    if not DNS1123_LABEL.match(name):
        raise problem("namespace", f"{name!r} is not a namespace name (a DNS-1123 label: lowercase, digits, '-')")
    return name


NamespaceName = Annotated[str, AfterValidator(_namespace_name)]


class NamespacesArgs(Model):
    """The namespaces to ensure (system namespaces in the list are skipped)."""

    names: tuple[NamespaceName, ...] = ()
    """Namespaces to create when missing (and label when present)."""
    labels: dict[str, str] = MANAGED_BY
    """Labels applied to each (default app.kubernetes.io/managed-by: homelab)."""


class NamespacesSection(Model):
    """The namespaces the stack writes into (egress policies, TLS Secrets, the LAN attachment) exist after `up`."""

    create: Flag = True
    """Make sure they exist: created when missing, only labelled when present, never deleted (default true)."""
    managed_elsewhere: tuple[NamespaceName, ...] = ()
    """Namespaces another tool owns: used as they are, never created or labelled."""


def to_ensure(named: Iterable[str], *, skip: Iterable[str] = ()) -> tuple[str, ...]:
    """Each namespace once, sorted: without system namespaces and those in `skip`
    (managed elsewhere, or created by another component)."""
    skipped = set(skip) | SYSTEM_NAMESPACES
    return tuple(sorted({n for n in named if n not in skipped}))


def args_problems(args: NamespacesArgs) -> list[str]:
    problems = [f"names: {n!r} is not a DNS-1123 label" for n in args.names if not DNS1123_LABEL.match(n)]
    seen: set[str] = set()
    for n in args.names:
        if n in seen:
            problems.append(f"names: {n!r} is listed twice")
        seen.add(n)
    return problems


def namespace_patch(name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """The object applied: the name and our labels, nothing another owner could lose."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": dict(labels), "annotations": {PATCH_FORCE: "true"}},
    }


class Namespaces(pulumi.ComponentResource):
    """One NamespacePatch per namespace, named <name>-<namespace>.

    Pass the Kubernetes provider in opts; components writing into these namespaces
    should `depends_on` this component.
    """

    names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: NamespacesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("homelab:namespaces:Namespaces", name, None, opts)
        refuse_invalid("Namespaces", args_problems(args))
        child = pulumi.ResourceOptions(parent=self, depends_on=inherited_depends_on(opts))
        ensured = [n for n in args.names if n not in SYSTEM_NAMESPACES]
        for ns in ensured:
            obj = namespace_patch(ns, args.labels)
            k8s.core.v1.NamespacePatch(
                f"{name}-{ns}",
                metadata=k8s.meta.v1.ObjectMetaPatchArgs(**obj["metadata"]),
                opts=child,
            )
        self.names = pulumi.Output.from_input(ensured)
        self.register_outputs({"names": self.names})
