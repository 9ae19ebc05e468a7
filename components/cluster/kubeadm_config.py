"""kubeadm v1beta4 documents, rendered from a ClusterSpec. Pure: text in, text out."""

from __future__ import annotations

from typing import Any

import yaml

from components.cluster.apiserver_config import api_server_args, api_server_volumes
from components.cluster.model import ClusterSpec, NodeSpec

KUBEADM_API = "kubeadm.k8s.io/v1beta4"
CRI_SOCKET = "unix:///run/containerd/containerd.sock"


def _args(pairs: dict[str, str]) -> list[dict[str, str]]:
    # v1beta4 turned extraArgs maps into ordered {name, value} lists.
    return [{"name": k, "value": v} for k, v in pairs.items()]


def _node_registration(node: NodeSpec) -> dict[str, Any]:
    reg: dict[str, Any] = {
        "name": node.name,
        "criSocket": CRI_SOCKET,
        "kubeletExtraArgs": _args({"node-ip": node.address}),
    }
    if node.labels:
        labels = ",".join(f"{k}={v}" for k, v in sorted(node.labels.items()))
        reg["kubeletExtraArgs"].append({"name": "node-labels", "value": labels})
    return reg


def init_configuration(spec: ClusterSpec) -> dict[str, Any]:
    first = spec.first_control_plane
    doc: dict[str, Any] = {
        "apiVersion": KUBEADM_API,
        "kind": "InitConfiguration",
        "localAPIEndpoint": {"advertiseAddress": first.address, "bindPort": spec.api_port},
        "nodeRegistration": _node_registration(first),
    }
    if not spec.kube_proxy:
        doc["skipPhases"] = ["addon/kube-proxy"]
    return doc


def cluster_configuration(spec: ClusterSpec) -> dict[str, Any]:
    api_server: dict[str, Any] = {"certSANs": spec.cert_sans()}
    extra_args = api_server_args(spec)
    if extra_args:
        api_server["extraArgs"] = _args(extra_args)
    volumes = api_server_volumes(spec)
    if volumes:
        api_server["extraVolumes"] = volumes
    doc: dict[str, Any] = {
        "apiVersion": KUBEADM_API,
        "kind": "ClusterConfiguration",
        "clusterName": spec.name,
        "kubernetesVersion": f"v{spec.kubernetes_version}",
        "controlPlaneEndpoint": spec.endpoint_address,
        "networking": {
            "podSubnet": spec.pod_cidr,
            "serviceSubnet": spec.service_cidr,
            "dnsDomain": spec.dns_domain,
        },
        # kubeadm turns podSubnet into kube-controller-manager's --cluster-cidr, whose
        # per-node podCIDRs Cilium uses (ipam.mode: kubernetes).
        "apiServer": api_server,
    }
    if spec.image_repository:
        # Every control-plane image, CoreDNS and pause come from here (kubeadm drops
        # the coredns/ sub-path outside registry.k8s.io).
        doc["imageRepository"] = spec.image_repository
    if not spec.kube_proxy:
        doc["proxy"] = {"disabled": True}
    return doc


def kubelet_configuration() -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # containerd is configured with SystemdCgroup = true by the host script.
        "cgroupDriver": "systemd",
        "failSwapOn": True,
    }


def kube_proxy_configuration(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clusterCIDR": spec.pod_cidr,
    }


def join_configuration(
    spec: ClusterSpec,
    node: NodeSpec,
    *,
    token: str,
    ca_cert_hash: str,
    certificate_key: str | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": KUBEADM_API,
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "apiServerEndpoint": spec.endpoint_address,
                "token": token,
                "caCertHashes": [ca_cert_hash],
            }
        },
        "nodeRegistration": _node_registration(node),
    }
    if node.is_control_plane:
        if not certificate_key:
            raise ValueError(f"control plane {node.name} needs a certificate key to join")
        doc["controlPlane"] = {
            "localAPIEndpoint": {"advertiseAddress": node.address, "bindPort": spec.api_port},
            "certificateKey": certificate_key,
        }
    return doc


def dump(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)


def render_init(spec: ClusterSpec) -> str:
    """The file `kubeadm init --config` reads on the first control plane."""
    docs = [init_configuration(spec), cluster_configuration(spec), kubelet_configuration()]
    if spec.kube_proxy:
        docs.append(kube_proxy_configuration(spec))
    return dump(docs)


def render_cluster(spec: ClusterSpec) -> str:
    """ClusterConfiguration alone, for `kubeadm init phase upload-config` after changes."""
    return dump([cluster_configuration(spec)])


def render_join(
    spec: ClusterSpec, node: NodeSpec, *, token: str, ca_cert_hash: str, certificate_key: str | None = None
) -> str:
    # The kubelet's config comes from the cluster's kubelet-config ConfigMap on join.
    return dump(
        [join_configuration(spec, node, token=token, ca_cert_hash=ca_cert_hash, certificate_key=certificate_key)]
    )
