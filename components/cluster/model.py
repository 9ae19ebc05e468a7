"""Typed arguments of KubeadmCluster: plain values, plus the SSH key as a pulumi Input."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi

from components.versions import KUBE_VIP_VERSION

Role = Literal["control-plane", "worker"]


@dataclass(frozen=True)
class SshAccess:
    """How to reach a node over SSH; the key stays a Pulumi secret."""

    user: str
    private_key: pulumi.Input[str]  # always a secret Output when built by lab.settings
    port: int = 22
    host_key: str | None = None  # pin the host's public key when known
    # Preview only: the key could not be read, `private_key` is a placeholder and the
    # commands keep the key stored in the state (no spurious connection diff).
    key_from_state: bool = False


@dataclass(frozen=True)
class NodeSpec:
    """One machine: its name (the Kubernetes node name), LAN address and role."""

    name: str
    address: str
    role: Role
    ssh: SshAccess
    prepare: bool = True  # False: the host was prepared by other means
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def is_control_plane(self) -> bool:
        return self.role == "control-plane"


@dataclass(frozen=True)
class JwtIssuer:
    """One `jwt` entry of an AuthenticationConfiguration (structured authn)."""

    url: str
    audiences: tuple[str, ...]
    username_claim: str = "sub"
    username_prefix: str = ""
    groups_claim: str | None = None
    groups_prefix: str = ""
    certificate_authority: str | None = None


@dataclass(frozen=True)
class WebhookAuthorizer:
    """A webhook entry of the AuthorizationConfiguration."""

    name: str
    kubeconfig_path: str  # on the control planes; must live under ApiServerConfig.config_dir
    timeout: str = "3s"
    failure_policy: Literal["Deny", "NoOpinion"] = "Deny"
    match_conditions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiServerConfig:
    """Structured authentication/authorization and extra API server flags."""

    jwt: tuple[JwtIssuer, ...] = ()
    # Authorizers in order: "Node", "RBAC", or a webhook.
    authorizers: tuple[str | WebhookAuthorizer, ...] = ()
    extra_args: dict[str, str] = field(default_factory=dict)
    config_dir: str = "/etc/kubernetes/homelab"

    @property
    def structured_authn(self) -> bool:
        return bool(self.jwt)

    @property
    def structured_authz(self) -> bool:
        return bool(self.authorizers)


PKGS_K8S_IO = "https://pkgs.k8s.io/core:/stable:/{minor}/deb/"
DEFAULT_IMAGE_REPOSITORY = "registry.k8s.io"  # kubeadm's own default


@dataclass(frozen=True)
class PackageSource:
    """Where the hosts get kubelet, kubeadm and kubectl: a flat apt repository and its key.

    The defaults are pkgs.k8s.io's repository for the cluster's minor and its Release.key.
    A mirror (or an air-gapped copy) sets `apt_repository`, and a key inline or by URL.
    """

    apt_repository: str = PKGS_K8S_IO  # "{minor}" becomes v1.34 (the cluster's minor)
    signing_key: str = ""  # an ASCII-armored public key, written to the host as is
    signing_key_url: str = ""  # fetched by the host; empty: <apt_repository>Release.key (unless signing_key)
    package_version: str = ""  # exact Debian version (e.g. 1.34.5-1.1); empty: the newest <version>-*

    def repository(self, minor: str) -> str:
        """The repository URL for a minor like "1.34"."""
        return self.apt_repository.replace("{minor}", f"v{minor}")

    def key_url(self, minor: str) -> str:
        if self.signing_key:
            return ""
        return (self.signing_key_url or self.apt_repository.rstrip("/") + "/Release.key").replace(
            "{minor}", f"v{minor}"
        )


@dataclass(frozen=True)
class RegistryHost:
    """How containerd reaches one registry (a hosts.toml under /etc/containerd/certs.d)."""

    host: str  # host[:port], as written in image references
    insecure: bool = False  # plain HTTP
    ca_cert: str = ""  # PEM of the CA that signed the registry's HTTPS certificate


@dataclass(frozen=True)
class ClusterSpec:
    """Everything KubeadmCluster needs: version, nodes, networks, endpoint and API server settings."""

    name: str
    kubernetes_version: str  # X.Y.Z
    nodes: tuple[NodeSpec, ...]
    pod_cidr: str
    service_cidr: str
    endpoint: str  # the VIP, or the first control plane's address when there is none
    vip: bool
    api_port: int = 6443
    dns_domain: str = "cluster.local"
    extra_sans: tuple[str, ...] = ()
    kube_proxy: bool = False  # False: the CNI (Cilium) replaces kube-proxy
    vip_interface: str = ""  # empty: kube-vip uses the interface of the default route
    api_server: ApiServerConfig = field(default_factory=ApiServerConfig)
    kube_vip_image: str = f"ghcr.io/kube-vip/kube-vip:{KUBE_VIP_VERSION}"
    packages: PackageSource = field(default_factory=PackageSource)
    image_repository: str = ""  # kubeadm's imageRepository; empty: registry.k8s.io
    registries: tuple[RegistryHost, ...] = ()  # containerd's per-registry settings on every node

    @property
    def control_planes(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.is_control_plane)

    @property
    def workers(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if not n.is_control_plane)

    @property
    def first_control_plane(self) -> NodeSpec:
        return self.control_planes[0]

    @property
    def endpoint_address(self) -> str:
        return f"{self.endpoint}:{self.api_port}"

    @property
    def minor(self) -> int:
        return int(self.kubernetes_version.split(".")[1])

    @property
    def images_from(self) -> str:
        """The registry/prefix the control-plane images (and pause) come from."""
        return self.image_repository or DEFAULT_IMAGE_REPOSITORY

    def cert_sans(self) -> list[str]:
        """Every name and IP a client may use for the API server, without duplicates."""
        sans: list[str] = [self.endpoint]
        for cp in self.control_planes:
            sans += [cp.address, cp.name]
        sans += list(self.extra_sans)
        return list(dict.fromkeys(sans))
