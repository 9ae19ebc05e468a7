"""Pinned upstream versions: one place, read by the components and by scripts/toolchain."""

from __future__ import annotations

# Kubernetes minors this project renders kubeadm v1beta4 documents for.
SUPPORTED_KUBERNETES_MINORS: tuple[int, int] = (31, 35)
DEFAULT_KUBERNETES_VERSION = "1.34.5"
# The minor before it, for the real upgrade test (tests/machines/test_upgrade_real.py): the
# newest 1.33 patch the Go proxy lists; scripts/toolchain falls back to a lower patch when refused.
PREVIOUS_KUBERNETES_VERSION = "1.33.13"

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
CRI_TOOLS_VERSION = "1.34.0"  # crictl: the cri-tools package of the local mirror (etcd snapshots use it)
