"""KubeadmCluster's declared inputs.

The args (ClusterSpec, NodeSpec, SshAccess, ApiServerConfig...) stay frozen dataclasses:
lab/ builds them from the validated stack sections declared below, the plugin from its
own inputs (plugin/cluster.py), and the rest of components/cluster reads and replaces
them (`dataclasses.replace`). The stack sections `homelab:lan`, `homelab:cluster`,
`homelab:ssh`, `homelab:nodes` and `homelab:packages` are models (components.model),
as are the parts shared with the plugin (PackageSource, RegistryHost, JwtIssuerSettings,
AuthorizerSettings). Rules across sections (addresses in the LAN, duplicates, the SSH
defaults a node inherits) are in lab/cluster.py and lab/packages.py.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

import pulumi
from pydantic import AfterValidator, Field, RootModel, ValidationInfo, model_validator

from components.cluster.sources import (
    check_apt_repository,
    check_armored_key,
    check_image_repository,
    check_package_version,
    check_pem_certificate,
    check_registry_host,
    check_url,
)
from components.model import (
    Cidr,
    Flag,
    IPv4Text,
    Label,
    Model,
    Port,
    fail,
    non_empty,
    problem,
)
from components.validation import DNS1123_SUBDOMAIN, IPRange
from components.versions import DEFAULT_KUBERNETES_VERSION, KUBE_VIP_VERSION, SUPPORTED_KUBERNETES_MINORS

Role = Literal["control-plane", "worker"]
API_CONFIG_DIR = "/etc/kubernetes/homelab"  # ApiServerConfig.config_dir: mounted into the API server
DEFAULT_POD_CIDR = "10.244.0.0/16"
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
HOST_KEY = re.compile(r"^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-\S+)\s+[A-Za-z0-9+/]+={0,3}(\s.*)?$")


class NodeRole(StrEnum):
    """A node's part in the cluster."""

    ControlPlane = "control-plane"
    """Runs the API server and etcd; the first control plane listed bootstraps the cluster."""
    Worker = "worker"
    """Runs workloads only."""


class AuthorizerType(StrEnum):
    """One authorizer of the API server's structured AuthorizationConfiguration."""

    Node = "Node"
    """The Node authorizer (kubelets)."""
    Rbac = "RBAC"
    """Role-based access control."""
    Webhook = "Webhook"
    """A webhook; needs name and kubeConfigFile."""


class WebhookFailurePolicy(StrEnum):
    """What the API server does when a webhook authorizer cannot be reached."""

    Deny = "Deny"
    """Deny the request."""
    NoOpinion = "NoOpinion"
    """Ask the next authorizer."""


# --- values (shared by the stack sections and the plugin's inputs) -------------------


def _range(text: str) -> str:
    try:
        IPRange.parse(text)
    except ValueError as exc:
        raise problem("range", f"{text!r} is not an address range `a-b` ({exc})") from None
    return text


def kubernetes_version(text: str) -> str:
    """X.Y.Z within the supported minors (a leading v is dropped)."""
    m = VERSION.match(text.strip())
    if not m:
        raise problem("version", f"{text!r} is not a Kubernetes version like {DEFAULT_KUBERNETES_VERSION}")
    major, minor, _ = (int(g) for g in m.groups())
    lo, hi = SUPPORTED_KUBERNETES_MINORS
    if major != 1 or not lo <= minor <= hi:
        raise problem("version", f"{text} is outside the supported range 1.{lo}–1.{hi}")
    return ".".join(m.groups())


def _name_or_ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not DNS1123_SUBDOMAIN.match(value):
            raise problem("san", f"{value!r} is neither a DNS name nor an IP address") from None
    return value


def _host_key(text: str) -> str:
    if not HOST_KEY.match(text.strip()):
        raise problem("host_key", "must be one public key as `ssh-keyscan` prints it: 'ssh-ed25519 AAAA...'")
    return text


def _checked(check: Any, *more: Any) -> AfterValidator:
    """A `sources.check_*` rule (message or None) as a validator; an empty value is an absent one."""

    def run(value: str) -> str:
        if value and (message := check(value, *more)):
            raise problem("source", message)
        return value

    return AfterValidator(run)


def _https(url: str) -> str:
    if not url.startswith("https://"):
        raise problem("issuer", f"{url!r} must be an https:// URL")
    return url


def _under_config_dir(path: str) -> str:
    if not path.startswith(API_CONFIG_DIR + "/"):
        raise problem("path", f"must be under {API_CONFIG_DIR}/ (the directory mounted into the API server)")
    return path


def _package_version(version: str, info: ValidationInfo) -> str:
    # The cluster's version comes from the context (the stack's homelab:cluster, the plugin's input).
    if version and (message := check_package_version(version, (info.context or {}).get("kubernetes_version"))):
        raise problem("package_version", message)
    return version


def _apt_repository(url: str) -> str:
    if message := check_apt_repository(url):
        raise problem("apt_repository", message)
    return url if url.endswith("/") else url + "/"  # a flat repository: apt appends Release, Packages


def _pem_or_empty(text: str) -> str:
    return text.strip() + "\n" if text else ""


def _flags(args: dict[str, str]) -> dict[str, str]:
    return {k.removeprefix("--"): v for k, v in args.items()}


KubernetesVersion = Annotated[str, AfterValidator(kubernetes_version)]
SanName = Annotated[str, AfterValidator(_name_or_ip)]
HostKey = Annotated[str, AfterValidator(_host_key)]
ImageRepository = Annotated[str, _checked(check_image_repository)]
ExtraArgs = Annotated[dict[str, str], AfterValidator(_flags)]


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
    config_dir: str = API_CONFIG_DIR

    @property
    def structured_authn(self) -> bool:
        return bool(self.jwt)

    @property
    def structured_authz(self) -> bool:
        return bool(self.authorizers)


PKGS_K8S_IO = "https://pkgs.k8s.io/core:/stable:/{minor}/deb/"
DEFAULT_IMAGE_REPOSITORY = "registry.k8s.io"  # kubeadm's own default


class PackageSource(Model):
    """Where the hosts get kubelet, kubeadm and kubectl (default: pkgs.k8s.io and its key)."""

    apt_repository: Annotated[str, AfterValidator(_apt_repository)] = PKGS_K8S_IO
    """A flat apt repository URL like pkgs.k8s.io's; {minor} stands for e.g. v1.34."""
    signing_key: Annotated[str, _checked(check_armored_key), AfterValidator(_pem_or_empty)] = ""
    """The repository's ASCII-armored public key, inline."""
    signing_key_url: Annotated[str, _checked(check_url, "a signing key")] = ""
    """Where hosts fetch the key (default: <aptRepository>Release.key)."""
    package_version: Annotated[str, AfterValidator(_package_version)] = ""
    """An exact Debian version of the packages, e.g. 1.34.5-1.1 (default: the newest of the cluster's version)."""

    def repository(self, minor: str) -> str:
        """The repository URL for a minor like "1.34"."""
        return self.apt_repository.replace("{minor}", f"v{minor}")

    def key_url(self, minor: str) -> str:
        if self.signing_key:
            return ""
        return (self.signing_key_url or self.apt_repository.rstrip("/") + "/Release.key").replace(
            "{minor}", f"v{minor}"
        )


class RegistryHost(Model):
    """How containerd reaches one registry (a hosts.toml on every node)."""

    host: Annotated[str, _checked(check_registry_host)]
    """host[:port] as written in image references."""
    insecure: Flag = False
    """Plain HTTP."""
    ca_cert: Annotated[str, _checked(check_pem_certificate), AfterValidator(_pem_or_empty)] = ""
    """PEM of the CA that signed the registry's HTTPS certificate."""

    @model_validator(mode="after")
    def _ca_is_for_https(self) -> RegistryHost:
        if self.ca_cert and self.insecure:
            raise problem("ca", "a CA certificate is for HTTPS; insecure: true means plain HTTP", at="caCert")
        return self


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


# --- shared by the stack sections and the plugin's inputs ----------------------------


class JwtIssuerSettings(Model):
    """One JWT issuer of the API server's structured AuthenticationConfiguration."""

    issuer: Annotated[str, AfterValidator(_https)]
    """Issuer URL (https://)."""
    audiences: Annotated[tuple[str, ...], non_empty("needs at least one audience")]
    """Accepted audiences (at least one)."""
    username_claim: str = "sub"
    """Claim that holds the user name (default sub)."""
    username_prefix: str = ""
    """Prefix added to user names (default none)."""
    groups_claim: str | None = None
    """Claim that holds the groups (default: no groups)."""
    groups_prefix: str = ""
    """Prefix added to group names."""
    certificate_authority: str | None = None
    """PEM CA that signs the issuer's TLS certificate, when it is not publicly trusted."""

    def issuer_config(self) -> JwtIssuer:
        return JwtIssuer(
            url=self.issuer,
            audiences=self.audiences,
            username_claim=self.username_claim,
            username_prefix=self.username_prefix,
            groups_claim=self.groups_claim or None,
            groups_prefix=self.groups_prefix,
            certificate_authority=self.certificate_authority or None,
        )


class AuthorizerSettings(Model):
    """One entry of the API server's authorizer chain, in order."""

    type: AuthorizerType
    """Node, RBAC or Webhook."""
    name: str | None = None
    """Webhook name (webhooks only)."""
    kube_config_file: Annotated[str, AfterValidator(_under_config_dir)] | None = None
    """Webhook kubeconfig path on the control planes, under /etc/kubernetes/homelab/ (webhooks only)."""
    timeout: str = "3s"
    """Webhook timeout (default 3s)."""
    failure_policy: WebhookFailurePolicy = WebhookFailurePolicy.Deny
    """Deny (default) or NoOpinion."""
    match_conditions: tuple[str, ...] = ()
    """CEL expressions that decide which requests reach the webhook."""

    @model_validator(mode="after")
    def _webhook_needs_its_file(self) -> AuthorizerSettings:
        if self.type == AuthorizerType.Webhook:
            fail(
                [
                    ((key,), "is required for a Webhook authorizer")
                    for key, value in (("name", self.name), ("kubeConfigFile", self.kube_config_file))
                    if not value
                ]
            )
        return self

    def authorizer(self) -> str | WebhookAuthorizer:
        if self.type != AuthorizerType.Webhook:
            return self.type.value
        return WebhookAuthorizer(
            name=self.name or "",
            kubeconfig_path=self.kube_config_file or "",
            timeout=self.timeout,
            failure_policy="NoOpinion" if self.failure_policy == WebhookFailurePolicy.NoOpinion else "Deny",
            match_conditions=self.match_conditions,
        )


def api_server_config(
    jwt: tuple[JwtIssuerSettings, ...], authorizers: tuple[AuthorizerSettings, ...], extra_args: dict[str, str]
) -> ApiServerConfig:
    return ApiServerConfig(
        jwt=tuple(j.issuer_config() for j in jwt),
        authorizers=tuple(a.authorizer() for a in authorizers),
        extra_args=dict(extra_args),
    )


def conflicting_args(extra_args: Any, jwt: Any, authorizers: Any) -> list[tuple[str, str]]:
    """(extra arg, why) for each extra arg the API server refuses next to the structured config.

    Read from the raw values (extra args, jwt issuers, authorizers), so the rule holds even
    when an issuer or an authorizer has its own problem: every problem at once."""
    from components.cluster.apiserver_config import conflicts  # it imports this module

    def listed(value: Any) -> tuple[Any, ...]:
        return tuple(value) if isinstance(value, list | tuple) else ()

    args = {str(k).removeprefix("--"): "" for k in extra_args} if isinstance(extra_args, dict) else {}
    return conflicts(ApiServerConfig(jwt=listed(jwt), authorizers=listed(authorizers), extra_args=args))


# --- the stack sections ------------------------------------------------------------------


class LanSection(Model):
    """The home LAN the nodes live on."""

    cidr: Cidr
    """The LAN, e.g. 192.168.2.0/24."""
    gateway: IPv4Text
    """The router's address (inside the LAN)."""
    dhcp_range: Annotated[str, AfterValidator(_range)] | None = None
    """The router's DHCP range `a-b`: nodes, the VIP and LoadBalancer pools stay out of it."""


class SshSettingsSection(Model):
    """SSH access to the nodes: a user and a private key (a secret, or a file on this machine)."""

    user: str | None = None
    """SSH user with passwordless sudo (or root); required in homelab:ssh unless every node sets it."""
    private_key: Annotated[str | None, Field(repr=False)] = None  # a secret: never in a repr or log line
    """The private key (PEM/OpenSSH), set as a secret: `pulumi config set --secret --path ssh.privateKey`."""
    private_key_path: str | None = None
    """A private key file on the machine running Pulumi (~ and $VARS expanded), instead of privateKey."""
    port: Port | None = None
    """SSH port (default 22)."""
    host_key: HostKey | None = None
    """The host's public key as `ssh-keyscan` prints it, pinned (unpinned: any key is accepted)."""


class NodeFields(Model):
    """One machine of the cluster (what the stack's and the plugin's forms share)."""

    name: Label
    """Node name (DNS-1123 label): the Kubernetes node name and the prefix of its resources."""
    address: IPv4Text
    """The node's static LAN IPv4 address (outside the DHCP range)."""
    role: NodeRole = NodeRole.Worker
    """control-plane or worker (default worker)."""
    prepare: Flag = True
    """Install containerd, kubelet and kubeadm first (default true); false: the host is prepared already."""
    labels: dict[str, str] = {}
    """Labels for the Node object."""


class NodeSection(NodeFields):
    """One machine of the cluster."""

    ssh: SshSettingsSection | None = None
    """This node's SSH settings, over homelab:ssh's."""


class JwtAuthentication(Model):
    """Structured authentication (an AuthenticationConfiguration file on the control planes)."""

    jwt: tuple[JwtIssuerSettings, ...] = ()
    """JWT issuers; excludes oidc-* extra args."""


class AuthorizerChain(Model):
    """Structured authorization (an AuthorizationConfiguration file on the control planes)."""

    authorizers: tuple[AuthorizerSettings, ...] = ()
    """Authorizers in order; excludes authorization-mode extra args."""


class ApiServerSection(Model):
    """Extra kube-apiserver flags and its structured authentication and authorization."""

    extra_args: ExtraArgs = {}
    """Extra kube-apiserver flags (a leading -- is dropped)."""
    authentication: JwtAuthentication = JwtAuthentication()
    """Structured authentication."""
    authorization: AuthorizerChain = AuthorizerChain()
    """Structured authorization."""

    def config(self) -> ApiServerConfig:
        return api_server_config(self.authentication.jwt, self.authorization.authorizers, self.extra_args)


class Registry(RegistryHost):
    """How containerd reaches one registry (a hosts.toml under /etc/containerd/certs.d on every node)."""

    ca_cert_path: str | None = None
    """A PEM file on the machine running Pulumi, instead of caCert."""


class ClusterFields(Model):
    """What the stack's homelab:cluster and the plugin's KubeadmCluster inputs share."""

    kubernetes_version: KubernetesVersion = DEFAULT_KUBERNETES_VERSION
    """Kubernetes version X.Y.Z (default: the version this project pins); one minor up at a time."""
    endpoint: IPv4Text | None = None
    """A virtual IP for the API server (kube-vip, ARP) on the LAN; default: the first control plane's address."""
    api_port: Port = 6443
    """API server port (default 6443)."""
    pod_cidr: Cidr = DEFAULT_POD_CIDR
    """Pod network, clear of the LAN (default 10.244.0.0/16)."""
    service_cidr: Cidr = DEFAULT_SERVICE_CIDR
    """Service network, clear of the LAN and the pods (default 10.96.0.0/12)."""
    dns_domain: str = "cluster.local"
    """Cluster DNS domain (default cluster.local)."""
    extra_sans: tuple[SanName, ...] = ()
    """More names and IPs for the API server certificate."""
    kube_proxy: Flag = False
    """Install kube-proxy (default false: Cilium replaces it)."""


class ClusterSection(ClusterFields):
    """The Kubernetes cluster kubeadm makes of the nodes."""

    name: Label = "homelab"
    """kubeadm's clusterName (DNS-1123 label)."""
    vip_interface: str | None = None
    """NIC kube-vip announces the VIP on (default: the default route's)."""
    api_server: ApiServerSection = ApiServerSection()
    """API server flags, structured authentication and authorization."""
    image_repository: ImageRepository | None = None
    """kubeadm's imageRepository, also the pause image's (default registry.k8s.io): host[:port][/path]."""
    registries: tuple[Registry, ...] = ()
    """containerd's per-registry settings (plain HTTP or a private CA) on every node."""


class PackagesSection(PackageSource):
    """Where the hosts get kubelet, kubeadm and kubectl: an apt mirror and its key (default pkgs.k8s.io)."""

    signing_key_path: str | None = None
    """The repository's ASCII-armored public key, from a file on the machine running Pulumi."""


class NodesSection(RootModel[tuple[NodeSection, ...]]):
    """The machines of the cluster; the first control plane bootstraps it."""
