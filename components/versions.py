"""Pinned upstream versions: one place, read by the components and by scripts/toolchain."""

from __future__ import annotations

# Kubernetes minors this project renders kubeadm v1beta4 documents for.
SUPPORTED_KUBERNETES_MINORS: tuple[int, int] = (31, 35)
DEFAULT_KUBERNETES_VERSION = "1.34.5"

CILIUM_VERSION = "1.18.6"
METALLB_VERSION = "0.15.3"
MULTUS_VERSION = "4.2.2"
KUBE_VIP_VERSION = "v1.0.1"
CERT_MANAGER_VERSION = "v1.19.1"

# Real binaries for the validation layer (built from Go modules by scripts/toolchain).
ETCD_VERSION = "3.6.6"
COREDNS_VERSION = "1.12.1"
HELM_VERSION = "3.19.5"
REGISTRY_VERSION = "3.1.2"  # distribution: the local machines' image registry
