"""Render the Cilium and MetalLB charts with the real helm and dry-run what they emit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .controlplane import ControlPlane, server_side_dry_run
from .helm import helm_template

pytestmark = pytest.mark.realbin

CILIUM_VALUES: dict[str, Any] = {
    "routingMode": "native",
    "ipv4NativeRoutingCIDR": "10.0.0.0/16",
    "autoDirectNodeRoutes": True,
    "kubeProxyReplacement": True,
    "k8sServiceHost": "192.168.2.10",
    "k8sServicePort": 6443,
    "ipam": {"mode": "kubernetes"},
}


def by_kind_name(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for o in objs:
        if o.get("kind") == kind and o.get("metadata", {}).get("name") == name:
            return o
    raise AssertionError(f"{kind} {name} not rendered; have {sorted({o.get('kind', '') for o in objs})}")


def test_cilium_chart_renders_native_routing_and_dry_runs(control_plane: ControlPlane, cilium_chart: Path) -> None:
    objs = helm_template(
        cilium_chart,
        CILIUM_VALUES,
        release="cilium",
        namespace="kube-system",
        api_versions=control_plane.api_versions(),
    )
    assert len(objs) > 15
    cfg = by_kind_name(objs, "ConfigMap", "cilium-config")["data"]
    assert cfg["routing-mode"] == "native"
    assert cfg["ipv4-native-routing-cidr"] == "10.0.0.0/16"
    assert cfg["auto-direct-node-routes"] == "true"
    assert cfg["kube-proxy-replacement"] == "true"
    assert cfg["ipam"] == "kubernetes"
    agent = by_kind_name(objs, "DaemonSet", "cilium")
    env = {e["name"]: e.get("value") for c in agent["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    assert env["KUBERNETES_SERVICE_HOST"] == "192.168.2.10"
    assert env["KUBERNETES_SERVICE_PORT"] == "6443"

    errors = server_side_dry_run(objs)
    assert errors == [], "\n".join(map(str, errors))


def test_cilium_chart_rejects_bad_values(cilium_chart: Path) -> None:
    # The chart's values.schema.json is enforced by the real helm.
    with pytest.raises(RuntimeError, match="routingMode|kubeProxyReplacement|schema"):
        helm_template(cilium_chart, {**CILIUM_VALUES, "kubeProxyReplacement": "strict"}, namespace="kube-system")


def test_metallb_chart_renders_with_defaults_and_dry_runs(control_plane: ControlPlane, metallb_chart: Path) -> None:
    objs = helm_template(
        metallb_chart,
        None,
        release="metallb",
        namespace="metallb-system",
        api_versions=control_plane.api_versions(),
    )
    assert len(objs) > 15
    kinds = {o["kind"] for o in objs}
    assert {"Deployment", "DaemonSet", "ValidatingWebhookConfiguration", "CustomResourceDefinition"} <= kinds
    # The vendored `crds` subchart ships the CRDs; the disabled frr-k8s subchart renders nothing.
    assert by_kind_name(objs, "CustomResourceDefinition", "ipaddresspools.metallb.io")
    assert not [o for o in objs if "frr-k8s" in o["metadata"]["name"]]

    errors = server_side_dry_run(objs)
    assert errors == [], "\n".join(map(str, errors))
