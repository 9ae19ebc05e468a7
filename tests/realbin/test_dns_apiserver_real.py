"""The CoreDNS patches applied to kubeadm's objects on a real kube-apiserver (server-side apply).

kubeadm creates the `coredns` ConfigMap and Deployment with ordinary create/update calls;
pulumi-kubernetes' *Patch resources are server-side applies with force. This checks that
our apply takes over the Corefile and the volume's item list, keeps the rest of kubeadm's
Deployment, and that giving a zone up removes its file. Skipped without scripts/toolchain.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.dns.corefile import configmap_data, deployment_patch_spec, volume_items
from components.dns.model import ForwardZone, Zone
from tests.unit.test_dns_corefile import KUBEADM_COREFILE, KUBEADM_DEPLOYMENT

pytestmark = pytest.mark.realbin

controlplane = pytest.importorskip("tests.realbin.controlplane")

CM_PATH = "/api/v1/namespaces/kube-system/configmaps/coredns"
DEPLOY_PATH = "/apis/apps/v1/namespaces/kube-system/deployments/coredns"
ANNOTATION = "homelab/corefile-sha256"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    for key in ("etcd", "kube-apiserver"):
        controlplane.require_tool(key)
    cp = controlplane.start_control_plane(tmp_path_factory.mktemp("dns-apiserver"))
    try:
        cp.ensure_namespaces(["kube-system"])
        # As kubeadm does it: plain creates, not applies.
        cm = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": KUBEADM_COREFILE},
        }
        cp.request("POST", "/api/v1/namespaces/kube-system/configmaps", cm, params={"fieldManager": "kubeadm"})
        cp.request(
            "POST",
            "/apis/apps/v1/namespaces/kube-system/deployments",
            copy.deepcopy(KUBEADM_DEPLOYMENT),
            params={"fieldManager": "kubeadm"},
        )
        yield cp
    finally:
        cp.stop()


def apply(cp: Any, obj: dict[str, Any], manager: str) -> None:
    path = CM_PATH if obj["kind"] == "ConfigMap" else DEPLOY_PATH
    cp.request(
        "PATCH",
        path,
        obj,
        content_type="application/apply-patch+yaml",
        params={"fieldManager": manager, "force": "true"},
    )


def patches(zones: list[Zone]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    data = configmap_data(
        [(z, dict(z.records)) for z in zones],
        [ForwardZone("home.lan", ("192.168.2.1",))],
        cluster_domain="cluster.local",
        config_dir="/etc/coredns",
        serials={z.name: 1 for z in zones if z.type == "file"},
    )
    meta = {"name": "coredns", "namespace": "kube-system", "annotations": {"pulumi.com/patchForce": "true"}}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": deployment_patch_spec(data, volume="config-volume", configmap="coredns", annotation=ANNOTATION),
    }
    return cm, deploy, data


def test_patches_take_over_the_corefile_and_the_mounted_items(api: Any, tmp_path: Path) -> None:
    zones = [Zone("k8s.intra", {"echo": "172.17.0.2"}), Zone("lab.intra", {"nas": "192.168.2.5"}, type="file")]
    cm, deploy, data = patches(zones)
    apply(api, cm, "pulumi-kubernetes-dns-corefile")
    apply(api, deploy, "pulumi-kubernetes-dns-rollout")

    live_cm = api.get(CM_PATH)
    assert live_cm["data"] == data
    live = api.get(DEPLOY_PATH)
    template = live["spec"]["template"]
    assert (
        template["metadata"]["annotations"][ANNOTATION]
        == deploy["spec"]["template"]["metadata"]["annotations"][ANNOTATION]
    )
    (volume,) = template["spec"]["volumes"]
    assert volume["configMap"]["items"] == volume_items(data)
    # kubeadm's own fields are untouched.
    (container,) = template["spec"]["containers"]
    assert container["args"] == ["-conf", "/etc/coredns/Corefile"]
    assert container["volumeMounts"][0]["mountPath"] == "/etc/coredns"

    # Dropping the file zone drops its key and its item: we own both.
    cm2, deploy2, data2 = patches(zones[:1])
    apply(api, cm2, "pulumi-kubernetes-dns-corefile")
    apply(api, deploy2, "pulumi-kubernetes-dns-rollout")
    assert sorted(api.get(CM_PATH)["data"]) == ["Corefile"]
    (volume,) = api.get(DEPLOY_PATH)["spec"]["template"]["spec"]["volumes"]
    assert volume["configMap"]["items"] == [{"key": "Corefile", "path": "Corefile"}]
    assert data2["Corefile"] != data["Corefile"]
