"""The namespaces the stack writes into exist after `up`: ensured once each by the stack,
before anything is written into them, unless the stack file says another tool owns them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.namespaces import SYSTEM_NAMESPACES
from lab.settings import build_settings
from tests.program.test_main_cluster import closure, run_stack
from tests.support.harness import ProgramRun
from tests.support.stacks import raw_stack, stack_config

PATCH = "kubernetes:core/v1:NamespacePatch"


def written_into(run: ProgramRun) -> dict[str, list[str]]:
    """Namespace → names of the namespaced objects the program writes there (not its own patches)."""
    out: dict[str, list[str]] = {}
    for r in run.resources:
        if not r.type.startswith("kubernetes:") or r.type.startswith("kubernetes:helm.sh/") or r.type == PATCH:
            continue
        ns = (r.inputs.get("metadata") or {}).get("namespace")
        if ns:
            out.setdefault(ns, []).append(r.name)
    return {ns: sorted(names) for ns, names in out.items()}


def ensured(run: ProgramRun) -> dict[str, Any]:
    """Namespace name → its NamespacePatch."""
    patches = run.by_type(PATCH)
    names = [p.inputs["metadata"]["name"] for p in patches]
    assert len(names) == len(set(names)), f"a namespace is ensured more than once: {sorted(names)}"
    return dict(zip(names, patches, strict=True))


def with_extra_users(stack: str) -> dict[str, Any]:
    """The stack with `apps` named three times (two policies, a Secret) and `default` too."""
    raw = raw_stack(stack)
    egress = copy.deepcopy(raw.get("egress") or [])
    egress += [
        {"name": "a1", "namespace": "apps", "selector": {"app": "a1"}, "allow": ["example.org"]},
        {"name": "a2", "namespace": "apps", "selector": {"app": "a2"}, "allow": ["example.org"]},
        {"name": "wide", "clusterwide": True, "namespace": "sandbox", "selector": {"app": "x"}, "allow": ["x.org"]},
    ]
    tls = copy.deepcopy(raw.get("tls") or {})
    tls.setdefault("secrets", []).append(
        {"name": "extra", "namespaces": ["apps", "default"], "dnsNames": ["e.k8s.intra"]}
    )
    return {"egress": egress, "tls": tls}


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_stack("prod")


def test_every_namespace_written_into_is_ensured_once_before_its_objects(prod: ProgramRun) -> None:
    patches = ensured(prod)
    users = written_into(prod)
    # prod: egress policies in apps, TLS Secrets in monitoring and apps, the LAN attachment in home.
    assert {"apps", "monitoring", "home"} <= set(patches)
    for ns, names in users.items():
        if ns in SYSTEM_NAMESPACES or ns == "metallb-system":  # the LoadBalancer makes its own
            assert ns not in patches, ns
            continue
        assert ns in patches, f"{names} are written into {ns!r}, which nothing makes"
        for name in names:
            assert patches[ns].urn in closure(prod, prod.named(name)), f"{name} may be created before {ns!r}"
    assert set(patches) <= set(users), "a namespace is ensured that nothing writes into"


def test_namespaces_use_the_cluster_provider_labels_and_are_never_deleted(prod: ProgramRun) -> None:
    (provider,) = [r for r in prod.resources if r.type == "pulumi:providers:kubernetes"]
    for ns, patch in ensured(prod).items():
        assert patch.provider_urn == provider.urn, ns
        md = patch.inputs["metadata"]
        assert md["labels"] == {"app.kubernetes.io/managed-by": "homelab"}
        # A patch gives its fields up on delete; the namespace (and its workloads) stays.
        assert md["annotations"]["pulumi.com/patchForce"] == "true"
        assert set(patch.inputs) <= {"apiVersion", "kind", "metadata"}, "only the name and labels are applied"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_namespace_named_many_times_is_ensured_once_and_system_ones_never(stack: str) -> None:
    run = run_stack(stack, **with_extra_users(stack))
    patches = ensured(run)
    assert "apps" in patches
    assert not set(patches) & SYSTEM_NAMESPACES
    assert "sandbox" not in patches  # a clusterwide policy is not written into a namespace


def test_managed_elsewhere_and_create_false() -> None:
    run = run_stack("prod", namespaces={"managedElsewhere": ["monitoring"]})
    assert "monitoring" not in ensured(run) and {"apps", "home"} <= set(ensured(run))
    off = run_stack("prod", namespaces={"create": False})
    assert off.by_type(PATCH) == [] and off.by_type("homelab:namespaces:Namespaces") == []
    # Nothing else changes: the same objects are written.
    assert written_into(off) == written_into(run_stack("prod"))


def test_invalid_namespaces_settings_stop_before_anything_is_registered() -> None:
    with pytest.raises(Exception) as failed:
        run_stack("prod", namespaces={"create": "yes", "managedElsewhere": ["Apps", "x", "x"], "manage": 1})
    text = str(failed.value)
    for expected in (
        "homelab:namespaces.create: must be true or false",
        "homelab:namespaces.managedElsewhere[0]: 'Apps' is not a namespace name",
        "homelab:namespaces.managedElsewhere[2]: namespace 'x' is listed twice",
        "homelab:namespaces.manage: unknown setting",
    ):
        assert expected in text, text
    assert failed.value.registered == []  # type: ignore[attr-defined]


def test_managed_elsewhere_that_nothing_uses_is_a_warning() -> None:
    config, secret = stack_config("prod", namespaces={"managedElsewhere": ["nothing-here", "kube-system"]})
    raw = {k.removeprefix("homelab:"): v for k, v in config.items()}
    settings = build_settings(raw, set(secret))
    warnings = {str(w) for w in settings.warnings}
    assert "homelab:namespaces.managedElsewhere[0]: no setting writes into namespace 'nothing-here'" in warnings
    assert any(w.startswith("homelab:namespaces.managedElsewhere[1]: 'kube-system'") for w in warnings), warnings
    assert settings.namespaces is not None and "monitoring" in settings.namespaces.names
