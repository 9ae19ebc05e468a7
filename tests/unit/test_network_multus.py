"""Multus thick-plugin objects (built-ins checked against the 1.34 schema) and the macvlan NAD."""

from __future__ import annotations

import json

import pytest

from components.network.model import LanAttachment, LanIpamMode
from components.network.multus import (
    RANGE_ANNOTATION,
    daemon_config,
    macvlan_cni_config,
    multus_image,
    render_multus_objects,
    render_network_attachments,
)
from components.versions import MULTUS_VERSION
from tests.support.schema import validate_builtin

LAN = LanAttachment(
    interface="eno1",
    range="192.168.2.224-192.168.2.239",
    lan_cidr="192.168.2.0/24",
    gateway="192.168.2.1",
    namespaces=("home", "media"),
)


def test_objects_in_dependency_order() -> None:
    kinds = [o["kind"] for o in render_multus_objects(MULTUS_VERSION)]
    assert kinds == [
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "ServiceAccount",
        "ConfigMap",
        "DaemonSet",
    ]


@pytest.mark.parametrize("index", range(6))
def test_every_object_is_schema_valid(index: int) -> None:
    validate_builtin(render_multus_objects(MULTUS_VERSION)[index])


def test_crd_serves_the_nad_kind() -> None:
    crd = render_multus_objects(MULTUS_VERSION)[0]
    assert crd["metadata"]["name"] == "network-attachment-definitions.k8s.cni.cncf.io"
    assert crd["spec"]["names"]["kind"] == "NetworkAttachmentDefinition"
    (version,) = crd["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1", True, True)


def test_daemonset_runs_the_pinned_thick_image_in_kube_system() -> None:
    ds = render_multus_objects("4.2.2")[-1]
    assert ds["metadata"]["namespace"] == "kube-system"
    images = {c["image"] for c in ds["spec"]["template"]["spec"]["containers"]}
    images |= {c["image"] for c in ds["spec"]["template"]["spec"]["initContainers"]}
    assert images == {"ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2-thick"}
    assert multus_image("v4.2.2") == multus_image("4.2.2")


def test_rbac_binds_the_service_account() -> None:
    _, role, binding, account, _, ds = render_multus_objects(MULTUS_VERSION)
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["name"] == account["metadata"]["name"]
    assert ds["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]


def test_daemon_config_wraps_the_first_cni_config() -> None:
    cm = render_multus_objects(MULTUS_VERSION)[4]
    assert json.loads(cm["data"]["daemon-config.json"]) == daemon_config()
    assert daemon_config()["multusConfigFile"] == "auto"


def test_static_ipam_lets_each_pod_name_its_address() -> None:
    config = macvlan_cni_config(LAN)
    assert config["type"] == "macvlan"
    assert config["master"] == "eno1"
    assert config["mode"] == "bridge"
    assert config["ipam"]["type"] == "static"
    assert config["capabilities"] == {"ips": True}


def test_host_local_ipam_uses_the_range_and_the_router() -> None:
    config = macvlan_cni_config(LAN.model_copy(update={"ipam": LanIpamMode.HostLocal}))
    (rng,) = config["ipam"]["ranges"][0]
    assert rng == {
        "subnet": "192.168.2.0/24",
        "rangeStart": "192.168.2.224",
        "rangeEnd": "192.168.2.239",
        "gateway": "192.168.2.1",
    }
    assert "capabilities" not in config


def test_one_nad_per_namespace() -> None:
    nads = render_network_attachments(LAN)
    assert [n["metadata"]["namespace"] for n in nads] == ["home", "media"]
    for nad in nads:
        assert nad["apiVersion"] == "k8s.cni.cncf.io/v1"
        assert nad["kind"] == "NetworkAttachmentDefinition"
        assert nad["metadata"]["name"] == "lan"
        assert set(nad["spec"]) == {"config"}  # the CRD's only spec field
        assert json.loads(nad["spec"]["config"]) == macvlan_cni_config(LAN)
        assert nad["metadata"]["annotations"][RANGE_ANNOTATION] == "192.168.2.224-192.168.2.239"
