"""KubeadmCluster: a kubeadm cluster on machines reached over SSH."""

from components.cluster.component import KubeadmCluster
from components.cluster.model import (
    ApiServerConfig,
    ClusterSpec,
    JwtIssuer,
    NodeSpec,
    SshAccess,
    WebhookAuthorizer,
)

__all__ = [
    "ApiServerConfig",
    "ClusterSpec",
    "JwtIssuer",
    "KubeadmCluster",
    "NodeSpec",
    "SshAccess",
    "WebhookAuthorizer",
]
