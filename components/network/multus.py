"""Multus (thick plugin) and the macvlan NetworkAttachmentDefinition that puts pods on the LAN.

Multus has no chart on a Helm repository we pin, so its upstream "thick" deployment
(deployments/multus-daemonset-thick.yml) is rendered here as plain objects, trimmed to
what it needs: the NetworkAttachmentDefinition CRD, RBAC, the daemon config and the
DaemonSet. The macvlan and static/host-local plugins it delegates to come from the
standard CNI plugins in /opt/cni/bin (kubeadm's kubernetes-cni package installs them).
"""

from __future__ import annotations

import json
from typing import Any

from components.network.model import LanAttachment
from components.validation import IPRange

NAD_API_VERSION = "k8s.cni.cncf.io/v1"
MULTUS_IMAGE = "ghcr.io/k8snetworkplumbingwg/multus-cni"
MULTUS_NAME = "multus"
LABELS = {"app": "multus", "name": "multus", "tier": "node"}


def multus_image(version: str) -> str:
    return f"{MULTUS_IMAGE}:v{version.removeprefix('v')}-thick"


def _crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "network-attachment-definitions.k8s.cni.cncf.io"},
        "spec": {
            "group": "k8s.cni.cncf.io",
            "scope": "Namespaced",
            "names": {
                "plural": "network-attachment-definitions",
                "singular": "network-attachment-definition",
                "kind": "NetworkAttachmentDefinition",
                "shortNames": ["nad", "net-attach-def"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": {
                                    "type": "object",
                                    "properties": {"config": {"type": "string"}},
                                },
                            },
                        }
                    },
                }
            ],
        },
    }


def _rbac(namespace: str) -> list[dict[str, Any]]:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": MULTUS_NAME},
        "rules": [
            {"apiGroups": ["k8s.cni.cncf.io"], "resources": ["*"], "verbs": ["*"]},
            {"apiGroups": [""], "resources": ["pods", "pods/status"], "verbs": ["get", "list", "update", "watch"]},
            {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": MULTUS_NAME},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": MULTUS_NAME},
        "subjects": [{"kind": "ServiceAccount", "name": MULTUS_NAME, "namespace": namespace}],
    }
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": MULTUS_NAME, "namespace": namespace},
    }
    return [role, binding, account]


def daemon_config() -> dict[str, Any]:
    # multusConfigFile "auto": Multus wraps the first CNI config it finds (Cilium's 05-cilium.conflist).
    return {
        "chrootDir": "/hostroot",
        "cniVersion": "0.3.1",
        "logLevel": "verbose",
        "logToStderr": True,
        "cniConfigDir": "/host/etc/cni/net.d",
        "multusAutoconfigDir": "/host/etc/cni/net.d",
        "multusConfigFile": "auto",
        "socketDir": "/host/run/multus/",
    }


def _config_map(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "multus-daemon-config",
            "namespace": namespace,
            "labels": {"app": "multus", "tier": "node"},
        },
        "data": {"daemon-config.json": json.dumps(daemon_config(), indent=2)},
    }


def _host_path(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "hostPath": {"path": path}}


def _daemon_set(namespace: str, version: str) -> dict[str, Any]:
    image = multus_image(version)
    mounts = [
        {"name": "cni", "mountPath": "/host/etc/cni/net.d"},
        # The daemon expects the CNI bin dir at the same path as on the host.
        {"name": "cnibin", "mountPath": "/opt/cni/bin"},
        {"name": "host-run", "mountPath": "/host/run"},
        {"name": "host-var-lib-cni-multus", "mountPath": "/var/lib/cni/multus"},
        {"name": "host-var-lib-kubelet", "mountPath": "/var/lib/kubelet", "mountPropagation": "HostToContainer"},
        {"name": "host-run-k8s-cni-cncf-io", "mountPath": "/run/k8s.cni.cncf.io"},
        {"name": "host-run-netns", "mountPath": "/run/netns", "mountPropagation": "HostToContainer"},
        {"name": "multus-daemon-config", "mountPath": "/etc/cni/net.d/multus.d", "readOnly": True},
        {"name": "hostroot", "mountPath": "/hostroot", "mountPropagation": "HostToContainer"},
        {"name": "multus-conf-dir", "mountPath": "/etc/cni/multus/net.d"},
    ]
    volumes = [
        _host_path("cni", "/etc/cni/net.d"),
        _host_path("cnibin", "/opt/cni/bin"),
        _host_path("hostroot", "/"),
        {
            "name": "multus-daemon-config",
            "configMap": {
                "name": "multus-daemon-config",
                "items": [{"key": "daemon-config.json", "path": "daemon-config.json"}],
            },
        },
        _host_path("host-run", "/run"),
        _host_path("host-var-lib-cni-multus", "/var/lib/cni/multus"),
        _host_path("host-var-lib-kubelet", "/var/lib/kubelet"),
        _host_path("host-run-k8s-cni-cncf-io", "/run/k8s.cni.cncf.io"),
        _host_path("host-run-netns", "/run/netns/"),
        _host_path("multus-conf-dir", "/etc/cni/multus/net.d"),
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "kube-multus-ds", "namespace": namespace, "labels": dict(LABELS)},
        "spec": {
            "selector": {"matchLabels": {"name": "multus"}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "hostNetwork": True,
                    "hostPID": True,
                    "priorityClassName": "system-node-critical",
                    "tolerations": [
                        {"operator": "Exists", "effect": "NoSchedule"},
                        {"operator": "Exists", "effect": "NoExecute"},
                    ],
                    "serviceAccountName": MULTUS_NAME,
                    "containers": [
                        {
                            "name": "kube-multus",
                            "image": image,
                            "command": ["/usr/src/multus-cni/bin/multus-daemon"],
                            # Upstream's 50Mi limit gets the daemon OOM-killed under pod churn; no CPU limit.
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "50Mi"},
                                "limits": {"memory": "200Mi"},
                            },
                            "securityContext": {"privileged": True},
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                            "volumeMounts": mounts,
                            "env": [
                                {"name": "MULTUS_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
                            ],
                        }
                    ],
                    "initContainers": [
                        {
                            "name": "install-multus-binary",
                            "image": image,
                            "command": [
                                "/usr/src/multus-cni/bin/install_multus",
                                "-d",
                                "/host/opt/cni/bin",
                                "-t",
                                "thick",
                            ],
                            "resources": {"requests": {"cpu": "10m", "memory": "15Mi"}},
                            "securityContext": {"privileged": True},
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                            "volumeMounts": [
                                {
                                    "name": "cnibin",
                                    "mountPath": "/host/opt/cni/bin",
                                    "mountPropagation": "Bidirectional",
                                }
                            ],
                        }
                    ],
                    "terminationGracePeriodSeconds": 10,
                    "volumes": volumes,
                },
            },
        },
    }


def render_multus_objects(version: str, namespace: str = "kube-system") -> list[dict[str, Any]]:
    """CRD first, then RBAC, daemon config and the DaemonSet."""
    return [_crd(), *_rbac(namespace), _config_map(namespace), _daemon_set(namespace, version)]


def macvlan_cni_config(lan: LanAttachment) -> dict[str, Any]:
    """The CNI config a NetworkAttachmentDefinition carries (as a JSON string).

    static IPAM (default): each pod names its LAN address in its network annotation
    (`[{"name": "lan", "ips": ["192.168.2.230/24"]}]`), so two nodes never hand out the
    same address. host-local keeps its allocations per node: safe only when the
    LAN-attached pods all run on one node.
    """
    rng = IPRange.parse(lan.range)
    ipam: dict[str, Any]
    if lan.ipam == "static":
        ipam = {"type": "static", "routes": []}
        capabilities = {"ips": True}
    else:
        ipam = {
            "type": "host-local",
            "ranges": [
                [
                    {
                        "subnet": lan.lan_cidr,
                        "rangeStart": str(rng.first),
                        "rangeEnd": str(rng.last),
                        "gateway": lan.gateway,
                    }
                ]
            ],
        }
        capabilities = {}
    config: dict[str, Any] = {
        "cniVersion": "0.3.1",
        "name": lan.network_name,
        "type": "macvlan",
        "master": lan.interface,
        "mode": "bridge",
        "ipam": ipam,
    }
    if capabilities:
        config["capabilities"] = capabilities
    return config


RANGE_ANNOTATION = "homelab/lan-range"


def render_network_attachments(lan: LanAttachment) -> list[dict[str, Any]]:
    config = json.dumps(macvlan_cni_config(lan), sort_keys=True)
    # The annotation tells a reader which LAN addresses pods may name (static IPAM has no range).
    annotations = {RANGE_ANNOTATION: str(IPRange.parse(lan.range)), "homelab/lan-gateway": lan.gateway}
    return [
        {
            "apiVersion": NAD_API_VERSION,
            "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": lan.network_name, "namespace": ns, "annotations": dict(annotations)},
            "spec": {"config": config},
        }
        for ns in lan.namespaces
    ]
