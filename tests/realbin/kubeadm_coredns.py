"""The CoreDNS objects kubeadm 1.34 creates, for patches to land on.

Taken from kubeadm's addon templates (cmd/kubeadm/app/phases/addons/dns/manifests.go,
Kubernetes 1.34) with its template values filled in: one ConfigMap with the default
Corefile and the Deployment. kubeadm creates them with plain creates (no apply), so they
are POSTed here with the field manager `kubeadm`; a *Patch then takes fields over with a
forced server-side apply, as on a real cluster.
"""

from __future__ import annotations

import copy
from typing import Any

from .controlplane import APIError, ControlPlane

NAMESPACE = "kube-system"
NAME = "coredns"
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.12.1"  # kubeadm 1.34's CoreDNS


def default_corefile(cluster_domain: str = "cluster.local") -> str:
    return f"""\
.:53 {{
    errors
    health {{
       lameduck 5s
    }}
    ready
    kubernetes {cluster_domain} in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    prometheus :9153
    forward . /etc/resolv.conf {{
       max_concurrent 1000
    }}
    cache 30 {{
       disable success {cluster_domain}
       disable denial {cluster_domain}
    }}
    loop
    reload
    loadbalance
}}
"""


def configmap(cluster_domain: str = "cluster.local") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "data": {"Corefile": default_corefile(cluster_domain)},
    }


def deployment() -> dict[str, Any]:
    port = {"protocol": "TCP"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"k8s-app": "kube-dns"}},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
            "template": {
                "metadata": {"labels": {"k8s-app": "kube-dns"}},
                "spec": {
                    "priorityClassName": "system-cluster-critical",
                    "serviceAccountName": "coredns",
                    "tolerations": [
                        {"key": "CriticalAddonsOnly", "operator": "Exists"},
                        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                    ],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [
                        {
                            "name": "coredns",
                            "image": COREDNS_IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "resources": {
                                "limits": {"memory": "170Mi"},
                                "requests": {"cpu": "100m", "memory": "70Mi"},
                            },
                            "args": ["-conf", "/etc/coredns/Corefile"],
                            "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": True}],
                            "ports": [
                                {"containerPort": 53, "name": "dns", "protocol": "UDP"},
                                {"containerPort": 53, "name": "dns-tcp", **port},
                                {"containerPort": 9153, "name": "metrics", **port},
                                {"containerPort": 8080, "name": "liveness-probe", **port},
                                {"containerPort": 8181, "name": "readiness-probe", **port},
                            ],
                            "livenessProbe": {
                                "httpGet": {"path": "/health", "port": "liveness-probe", "scheme": "HTTP"},
                                "initialDelaySeconds": 60,
                                "timeoutSeconds": 5,
                                "successThreshold": 1,
                                "failureThreshold": 5,
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/ready", "port": "readiness-probe", "scheme": "HTTP"}
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                                "readOnlyRootFilesystem": True,
                            },
                        }
                    ],
                    "dnsPolicy": "Default",
                    "volumes": [
                        {
                            "name": "config-volume",
                            "configMap": {"name": NAME, "items": [{"key": "Corefile", "path": "Corefile"}]},
                        }
                    ],
                },
            },
        },
    }


def ensure_kubeadm_coredns(cp: ControlPlane, cluster_domain: str = "cluster.local") -> None:
    """Create kubeadm's ConfigMap and Deployment (kept if they exist: patches are dry runs)."""
    cp.ensure_namespaces([NAMESPACE])
    for obj, collection in (
        (configmap(cluster_domain), f"/api/v1/namespaces/{NAMESPACE}/configmaps"),
        (deployment(), f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"),
    ):
        try:
            cp.request("POST", collection, copy.deepcopy(obj), params={"fieldManager": "kubeadm"})
        except APIError as e:
            if e.code != 409:  # AlreadyExists: made earlier in this session
                raise
