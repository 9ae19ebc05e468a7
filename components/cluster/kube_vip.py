"""kube-vip as a static pod (ARP mode) holding the control-plane VIP."""

from __future__ import annotations

from typing import Any

import yaml

from components.cluster.model import ClusterSpec

ADMIN_CONF = "/etc/kubernetes/admin.conf"
# During `kubeadm init` (>= 1.29) admin.conf has no rights until kubeadm binds them,
# so the first control plane's kube-vip starts with super-admin.conf (kube-vip#684).
SUPER_ADMIN_CONF = "/etc/kubernetes/super-admin.conf"
MANIFEST_PATH = "/etc/kubernetes/manifests/kube-vip.yaml"


def kube_vip_pod(spec: ClusterSpec, *, kubeconfig: str = ADMIN_CONF) -> dict[str, Any]:
    env = {
        "vip_arp": "true",
        "port": str(spec.api_port),
        "vip_cidr": "32",
        "dns_mode": "first",
        "cp_enable": "true",
        "cp_namespace": "kube-system",
        "vip_leaderelection": "true",
        "vip_leasename": "plndr-cp-lock",
        "vip_leaseduration": "5",
        "vip_renewdeadline": "3",
        "vip_retryperiod": "1",
        "address": spec.endpoint,
    }
    if spec.vip_interface:
        env["vip_interface"] = spec.vip_interface
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-vip", "namespace": "kube-system"},
        "spec": {
            "containers": [
                {
                    "name": "kube-vip",
                    "image": spec.kube_vip_image,
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["manager"],
                    "env": [{"name": k, "value": v} for k, v in env.items()],
                    "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}},
                    "volumeMounts": [{"name": "kubeconfig", "mountPath": ADMIN_CONF}],
                }
            ],
            "hostAliases": [{"hostnames": ["kubernetes"], "ip": "127.0.0.1"}],
            "hostNetwork": True,
            "volumes": [{"name": "kubeconfig", "hostPath": {"path": kubeconfig, "type": "File"}}],
        },
    }


def render_kube_vip(spec: ClusterSpec, *, kubeconfig: str = ADMIN_CONF) -> str:
    return yaml.safe_dump(kube_vip_pod(spec, kubeconfig=kubeconfig), sort_keys=False)
