"""The Kubernetes objects TlsSecrets writes, as plain dicts (values may be Outputs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.tls.model import ALLOWED_USES

MANAGED_BY = {"app.kubernetes.io/managed-by": "homelab"}
CERT_MANAGER_API = "cert-manager.io/v1"


def allowed_uses(usages: Sequence[str]) -> list[str]:
    """The union of the roles' key usages, in a fixed order."""
    out: list[str] = []
    for usage in ("server", "client"):
        if usage in usages:
            out.extend(u for u in ALLOWED_USES[usage] if u not in out)
    return out


def tls_secret(name: str, namespace: str, *, cert: Any, key: Any, ca: Any) -> dict[str, Any]:
    """A kubernetes.io/tls Secret: tls.crt, tls.key, and the CA as ca.crt (stringData: PEM as is)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": cert, "tls.key": key, "ca.crt": ca},
    }


def ca_cluster_issuer(name: str, secret_name: str) -> dict[str, Any]:
    """cert-manager's CA issuer; it reads the Secret from its cluster resource namespace."""
    return {
        "apiVersion": CERT_MANAGER_API,
        "kind": "ClusterIssuer",
        "metadata": {"name": name, "labels": dict(MANAGED_BY)},
        "spec": {"ca": {"secretName": secret_name}},
    }
