"""kubeadm v1beta4 documents, parsed back and checked field by field."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.cluster.apiserver_config import conflicts
from components.cluster.kubeadm_config import render_cluster, render_init, render_join
from components.cluster.model import ApiServerConfig, JwtIssuer, WebhookAuthorizer
from tests.support.cluster_fixtures import ha_spec, single_spec


def docs(text: str) -> dict[str, dict[str, Any]]:
    out = {d["kind"]: d for d in yaml.safe_load_all(text)}
    return out


def test_init_documents_and_kinds() -> None:
    d = docs(render_init(ha_spec()))
    assert set(d) == {"InitConfiguration", "ClusterConfiguration", "KubeletConfiguration"}
    for kind in ("InitConfiguration", "ClusterConfiguration"):
        assert d[kind]["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    init = d["InitConfiguration"]
    assert init["localAPIEndpoint"] == {"advertiseAddress": "192.168.2.11", "bindPort": 6443}
    assert init["nodeRegistration"]["name"] == "cp01"
    assert init["nodeRegistration"]["criSocket"] == "unix:///run/containerd/containerd.sock"
    # v1beta4: kubeletExtraArgs is a list of {name, value}
    assert {"name": "node-ip", "value": "192.168.2.11"} in init["nodeRegistration"]["kubeletExtraArgs"]
    assert init["skipPhases"] == ["addon/kube-proxy"]
    assert d["KubeletConfiguration"]["cgroupDriver"] == "systemd"


def test_cluster_configuration_networking_and_sans() -> None:
    c = docs(render_init(ha_spec()))["ClusterConfiguration"]
    assert c["kubernetesVersion"] == "v1.34.5"
    assert c["controlPlaneEndpoint"] == "192.168.2.10:6443"
    assert c["networking"] == {
        "podSubnet": "10.244.0.0/16",
        "serviceSubnet": "10.96.0.0/12",
        "dnsDomain": "cluster.local",
    }
    sans = c["apiServer"]["certSANs"]
    for expected in (
        "192.168.2.10",
        "192.168.2.11",
        "cp01",
        "192.168.2.12",
        "cp02",
        "192.168.2.13",
        "cp03",
        "k8s.home.lan",
    ):
        assert expected in sans
    assert "192.168.2.21" not in sans and "worker01" not in sans
    assert len(sans) == len(set(sans))
    assert c["proxy"] == {"disabled": True}


def test_kube_proxy_kept_when_asked() -> None:
    d = docs(render_init(single_spec(kube_proxy=True)))
    assert "skipPhases" not in d["InitConfiguration"]
    assert "proxy" not in d["ClusterConfiguration"]
    kp = d["KubeProxyConfiguration"]
    assert kp["apiVersion"] == "kubeproxy.config.k8s.io/v1alpha1"
    assert kp["clusterCIDR"] == "10.244.0.0/16"


def test_no_kube_proxy_configuration_when_replaced() -> None:
    assert "KubeProxyConfiguration" not in docs(render_init(single_spec()))


def test_single_node_endpoint_is_the_control_plane() -> None:
    c = docs(render_init(single_spec()))["ClusterConfiguration"]
    assert c["controlPlaneEndpoint"] == "192.168.2.11:6443"
    assert c["apiServer"]["certSANs"][:2] == ["192.168.2.11", "cp01"]


def test_join_worker_and_control_plane() -> None:
    spec = ha_spec()
    worker = spec.nodes[3]
    j = docs(render_join(spec, worker, token="abcdef.0123456789abcdef", ca_cert_hash="sha256:" + "a" * 64))
    assert set(j) == {"JoinConfiguration"}
    jc = j["JoinConfiguration"]
    assert jc["discovery"]["bootstrapToken"] == {
        "apiServerEndpoint": "192.168.2.10:6443",
        "token": "abcdef.0123456789abcdef",
        "caCertHashes": ["sha256:" + "a" * 64],
    }
    assert "controlPlane" not in jc
    assert jc["nodeRegistration"]["name"] == "worker01"
    cp = docs(render_join(spec, spec.nodes[1], token="t", ca_cert_hash="h", certificate_key="k" * 64))
    plane = cp["JoinConfiguration"]["controlPlane"]
    assert plane == {
        "localAPIEndpoint": {"advertiseAddress": "192.168.2.12", "bindPort": 6443},
        "certificateKey": "k" * 64,
    }


def test_control_plane_join_needs_certificate_key() -> None:
    spec = ha_spec()
    with pytest.raises(ValueError, match="certificate key"):
        render_join(spec, spec.nodes[1], token="t", ca_cert_hash="h")


def test_node_labels_become_kubelet_arg() -> None:
    from tests.support.cluster_fixtures import node

    spec = single_spec(nodes=(node("cp01", "192.168.2.11", "control-plane", labels={"b": "2", "a": "1"}),))
    reg = docs(render_init(spec))["InitConfiguration"]["nodeRegistration"]
    assert {"name": "node-labels", "value": "a=1,b=2"} in reg["kubeletExtraArgs"]


def test_structured_apiserver_config_wired_through_args_and_volumes() -> None:
    api = ApiServerConfig(
        jwt=(JwtIssuer(url="https://id.home.lan", audiences=("k8s",), groups_claim="groups"),),
        authorizers=(
            "Node",
            "RBAC",
            WebhookAuthorizer(name="opa", kubeconfig_path="/etc/kubernetes/homelab/opa.kubeconfig"),
        ),
        extra_args={"audit-log-maxage": "7"},
    )
    c = docs(render_cluster(ha_spec(api_server=api)))["ClusterConfiguration"]
    args = {a["name"]: a["value"] for a in c["apiServer"]["extraArgs"]}
    assert args == {
        "audit-log-maxage": "7",
        "authentication-config": "/etc/kubernetes/homelab/authentication.yaml",
        "authorization-config": "/etc/kubernetes/homelab/authorization.yaml",
    }
    (vol,) = c["apiServer"]["extraVolumes"]
    assert vol["hostPath"] == vol["mountPath"] == "/etc/kubernetes/homelab"
    assert vol["readOnly"] is True


def test_structured_config_conflicts() -> None:
    api = ApiServerConfig(
        jwt=(JwtIssuer(url="https://id", audiences=("a",)),),
        authorizers=("RBAC",),
        extra_args={
            "oidc-issuer-url": "https://x",
            "authorization-mode": "RBAC",
            "authorization-webhook-version": "v1",
        },
    )
    found = {arg for arg, _ in conflicts(api)}
    assert found == {"oidc-issuer-url", "authorization-mode", "authorization-webhook-version"}
    assert conflicts(ApiServerConfig(extra_args={"oidc-issuer-url": "https://x"})) == []
