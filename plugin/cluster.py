"""KubeadmCluster for other Pulumi languages: plugin-friendly inputs → ClusterSpec → the real component.

The SSH private keys are top-level inputs of their own: a secret nested in `nodes` or
`ssh` would turn that whole input into one secret Output, and node names and
addresses must be plain to name resources and render kubeadm's configuration.
"""

import ipaddress
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

import pulumi

from components.cluster.apiserver_config import conflicts
from components.cluster.component import KubeadmCluster as RealKubeadmCluster
from components.cluster.model import (
    PKGS_K8S_IO,
    ApiServerConfig,
    ClusterSpec,
    JwtIssuer,
    NodeSpec,
    PackageSource,
    RegistryHost,
    SshAccess,
    WebhookAuthorizer,
)
from components.cluster.sources import (
    check_apt_repository,
    check_armored_key,
    check_image_repository,
    check_package_version,
    check_pem_certificate,
    check_registry_host,
    check_url,
)
from components.validation import DNS1123_LABEL, DNS1123_SUBDOMAIN, Problems
from components.versions import DEFAULT_KUBERNETES_VERSION, KUBE_VIP_VERSION, SUPPORTED_KUBERNETES_MINORS
from plugin.inputs import (
    check_plain,
    child_options,
    cidr,
    integer,
    ipv4,
    optional_text,
    raise_if_any,
    string_map,
    strings,
    text,
)

TOKEN = "homelab:index:KubeadmCluster"
VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
DEFAULT_POD_CIDR = "10.244.0.0/16"
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"


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


class SshSettings(TypedDict):
    """How Pulumi reaches every node over SSH; the private key is the separate sshPrivateKey input."""

    user: str
    """SSH user with passwordless sudo (or root)."""
    port: NotRequired[int]
    """SSH port (default 22)."""
    host_key: NotRequired[str]
    """The hosts' public key, pinned when known."""


class NodeSsh(TypedDict):
    """Per-node overrides of the cluster-wide SSH settings."""

    user: NotRequired[str]
    """SSH user on this node."""
    port: NotRequired[int]
    """SSH port on this node."""
    host_key: NotRequired[str]
    """This node's public host key."""


class ClusterNode(TypedDict):
    """One machine of the cluster."""

    name: str
    """Node name (DNS-1123 label); also names this node's resources."""
    address: str
    """The node's static LAN IPv4 address."""
    role: NotRequired[NodeRole]
    """control-plane or worker (default worker)."""
    prepare: NotRequired[bool]
    """Install containerd, kubelet and kubeadm first (default true); false: the host is prepared already."""
    labels: NotRequired[dict[str, str]]
    """Labels for the Node object."""
    ssh: NotRequired[NodeSsh]
    """Overrides of the cluster-wide SSH settings for this node."""


class JwtIssuerSettings(TypedDict):
    """One JWT issuer of the API server's structured AuthenticationConfiguration."""

    issuer: str
    """Issuer URL (https://)."""
    audiences: list[str]
    """Accepted audiences (at least one)."""
    username_claim: NotRequired[str]
    """Claim that holds the user name (default sub)."""
    username_prefix: NotRequired[str]
    """Prefix added to user names (default none)."""
    groups_claim: NotRequired[str]
    """Claim that holds the groups (default: no groups)."""
    groups_prefix: NotRequired[str]
    """Prefix added to group names."""
    certificate_authority: NotRequired[str]
    """PEM CA that signs the issuer's TLS certificate, when it is not publicly trusted."""


class AuthorizerSettings(TypedDict):
    """One entry of the API server's authorizer chain, in order."""

    type: AuthorizerType
    """Node, RBAC or Webhook."""
    name: NotRequired[str]
    """Webhook name (webhooks only)."""
    kube_config_file: NotRequired[str]
    """Webhook kubeconfig path on the control planes, under configDir (webhooks only)."""
    timeout: NotRequired[str]
    """Webhook timeout (default 3s)."""
    failure_policy: NotRequired[WebhookFailurePolicy]
    """Deny (default) or NoOpinion."""
    match_conditions: NotRequired[list[str]]
    """CEL expressions that decide which requests reach the webhook."""


class ApiServerSettings(TypedDict):
    """Structured API server configuration and extra flags."""

    jwt: NotRequired[list[JwtIssuerSettings]]
    """JWT issuers (structured authentication); excludes oidc-* extra args."""
    authorizers: NotRequired[list[AuthorizerSettings]]
    """Authorizer chain (structured authorization); excludes authorization-mode extra args."""
    extra_args: NotRequired[dict[str, str]]
    """Extra kube-apiserver flags, without the leading --."""


class PackageSettings(TypedDict):
    """Where the hosts get kubelet, kubeadm and kubectl (default: pkgs.k8s.io and its key)."""

    apt_repository: NotRequired[str]
    """A flat apt repository URL like pkgs.k8s.io's; {minor} stands for e.g. v1.34."""
    signing_key: NotRequired[str]
    """The repository's ASCII-armored public key, inline."""
    signing_key_url: NotRequired[str]
    """Where hosts fetch the key (default: <aptRepository>Release.key)."""
    package_version: NotRequired[str]
    """An exact Debian version of the packages, e.g. 1.34.5-1.1 (default: the newest of the cluster's version)."""


class RegistrySettings(TypedDict):
    """How containerd reaches one registry (a hosts.toml on every node)."""

    host: str
    """host[:port] as written in image references."""
    insecure: NotRequired[bool]
    """Plain HTTP."""
    ca_cert: NotRequired[str]
    """PEM of the CA that signed the registry's HTTPS certificate."""


class KubeadmClusterArgs(TypedDict):
    """Inputs of KubeadmCluster."""

    nodes: list[ClusterNode]
    """The machines, control planes first is customary; the first control plane bootstraps the cluster."""
    ssh: SshSettings
    """SSH access for every node (per-node overrides in nodes[].ssh)."""
    ssh_private_key: NotRequired[pulumi.Input[str]]
    """SSH private key (PEM/OpenSSH) for every node; pass it as a secret."""
    node_private_keys: NotRequired[dict[str, pulumi.Input[str]]]
    """Per-node SSH private keys by node name, for nodes that don't use sshPrivateKey; secrets."""
    cluster_name: NotRequired[str]
    """kubeadm's clusterName and the provider's cluster identity (default: the resource name)."""
    kubernetes_version: NotRequired[str]
    """Kubernetes version X.Y.Z (default: the version this package pins)."""
    endpoint: NotRequired[str]
    """A virtual IP for the API server (kube-vip, ARP); omit it to use the first control plane's address."""
    api_port: NotRequired[int]
    """API server port (default 6443)."""
    pod_cidr: NotRequired[str]
    """Pod network (default 10.244.0.0/16)."""
    service_cidr: NotRequired[str]
    """Service network (default 10.96.0.0/12)."""
    dns_domain: NotRequired[str]
    """Cluster DNS domain (default cluster.local)."""
    extra_sans: NotRequired[list[str]]
    """More names and IPs for the API server certificate."""
    kube_proxy: NotRequired[bool]
    """Install kube-proxy (default false: the CNI, Cilium, replaces it)."""
    vip_interface: NotRequired[str]
    """NIC kube-vip announces the VIP on (default: the default route's)."""
    kube_vip_image: NotRequired[str]
    """kube-vip image (default: the version this package pins)."""
    api_server: NotRequired[ApiServerSettings]
    """Structured authentication/authorization and extra API server flags."""
    packages: NotRequired[PackageSettings]
    """Where the hosts get kubelet, kubeadm and kubectl (a mirror, an air-gapped repository)."""
    image_repository: NotRequired[str]
    """kubeadm's imageRepository, also the pause image's (default registry.k8s.io)."""
    registries: NotRequired[list[RegistrySettings]]
    """containerd's per-registry settings (plain HTTP or a private CA) on every node."""


class ClusterNodeInfo(TypedDict):
    """A node as the cluster reports it in its outputs."""

    name: str
    """Node name."""
    address: str
    """LAN address."""
    role: str
    """control-plane or worker."""


def _version(value: Any, problems: Problems) -> str:
    raw = text(value) if value is not None else DEFAULT_KUBERNETES_VERSION
    m = VERSION.match(raw.strip())
    lo, hi = SUPPORTED_KUBERNETES_MINORS
    if not m or int(m.group(1)) != 1 or not lo <= int(m.group(2)) <= hi:
        problems.error("kubernetesVersion", f"{raw!r} is not a Kubernetes version X.Y.Z within 1.{lo}–1.{hi}")
        return DEFAULT_KUBERNETES_VERSION
    return ".".join(m.groups())


def _api_server(raw: Mapping[str, Any] | None, problems: Problems) -> ApiServerConfig:
    raw = raw or {}
    config_dir = ApiServerConfig().config_dir
    jwt: list[JwtIssuer] = []
    for i, item in enumerate(raw.get("jwt") or []):
        key = f"apiServer.jwt[{i}]"
        url = text(item.get("issuer", ""))
        if not url.startswith("https://"):
            problems.error(f"{key}.issuer", f"{url!r} must be an https:// URL")
        audiences = strings(item.get("audiences"))
        if not audiences:
            problems.error(f"{key}.audiences", "at least one audience is required")
        jwt.append(
            JwtIssuer(
                url=url,
                audiences=audiences,
                username_claim=text(item.get("username_claim", "sub")),
                username_prefix=text(item.get("username_prefix", "")),
                groups_claim=optional_text(item.get("groups_claim")),
                groups_prefix=text(item.get("groups_prefix", "")),
                certificate_authority=optional_text(item.get("certificate_authority")),
            )
        )
    authorizers: list[str | WebhookAuthorizer] = []
    for i, item in enumerate(raw.get("authorizers") or []):
        key = f"apiServer.authorizers[{i}]"
        kind = text(item.get("type", ""))
        if kind in ("Node", "RBAC"):
            authorizers.append(kind)
        elif kind == "Webhook":
            name, path = text(item.get("name", "")), text(item.get("kube_config_file", ""))
            if not name:
                problems.error(f"{key}.name", "a webhook authorizer needs a name")
            if not path.startswith(config_dir + "/"):
                problems.error(f"{key}.kubeConfigFile", f"must be under {config_dir}/ (mounted into the API server)")
            policy = text(item.get("failure_policy", "Deny"))
            if policy not in ("Deny", "NoOpinion"):
                problems.error(f"{key}.failurePolicy", f"{policy!r} must be Deny or NoOpinion")
            authorizers.append(
                WebhookAuthorizer(
                    name=name,
                    kubeconfig_path=path,
                    timeout=text(item.get("timeout", "3s")),
                    failure_policy="NoOpinion" if policy == "NoOpinion" else "Deny",
                    match_conditions=strings(item.get("match_conditions")),
                )
            )
        else:
            problems.error(f"{key}.type", f"{kind!r} must be Node, RBAC or Webhook")
    extra = {k.removeprefix("--"): v for k, v in string_map(raw.get("extra_args")).items()}
    cfg = ApiServerConfig(jwt=tuple(jwt), authorizers=tuple(authorizers), extra_args=extra)
    for arg, why in conflicts(cfg):
        problems.error(f"apiServer.extraArgs.{arg}", why)
    return cfg


def _packages(raw: Mapping[str, Any] | None, version: str, problems: Problems) -> PackageSource:
    raw = raw or {}
    repo = text(raw.get("apt_repository", PKGS_K8S_IO))
    if problem := check_apt_repository(repo):
        problems.error("packages.aptRepository", problem)
    key = text(raw.get("signing_key", ""))
    key_url = text(raw.get("signing_key_url", ""))
    if key and key_url:
        problems.error("packages.signingKeyUrl", "give signingKey or signingKeyUrl, not both")
    if key and (problem := check_armored_key(key)):
        problems.error("packages.signingKey", problem)
    if key_url and (problem := check_url(key_url, "a signing key")):
        problems.error("packages.signingKeyUrl", problem)
    pkg_version = text(raw.get("package_version", ""))
    if pkg_version and (problem := check_package_version(pkg_version, version)):
        problems.error("packages.packageVersion", problem)
    return PackageSource(
        apt_repository=repo if repo.endswith("/") else repo + "/",
        signing_key=key.strip() + "\n" if key else "",
        signing_key_url=key_url,
        package_version=pkg_version,
    )


def _registries(raw: Any, problems: Problems) -> tuple[RegistryHost, ...]:
    out: list[RegistryHost] = []
    seen: set[str] = set()
    for i, item in enumerate(raw or []):
        key = f"registries[{i}]"
        host = text(item.get("host", ""))
        if problem := check_registry_host(host):
            problems.error(f"{key}.host", problem)
        elif host in seen:
            problems.error(f"{key}.host", f"{host!r} is listed twice")
        seen.add(host)
        insecure = bool(item.get("insecure", False))
        ca = text(item.get("ca_cert", ""))
        if ca and (problem := check_pem_certificate(ca)):
            problems.error(f"{key}.caCert", problem)
        if ca and insecure:
            problems.error(f"{key}.caCert", "a CA certificate is for HTTPS; insecure: true means plain HTTP")
        out.append(RegistryHost(host=host, insecure=insecure, ca_cert=ca.strip() + "\n" if ca else ""))
    return tuple(out)


def _private_key(
    node: str, keys: Any, default: pulumi.Input[str] | None, key: str, problems: Problems
) -> pulumi.Input[str] | None:
    """This node's key: its own from node_private_keys, else the cluster-wide one."""
    if isinstance(keys, pulumi.Output):
        # A secret map arrives whole; the choice is made once it is known.
        def pick(resolved: tuple[Mapping[str, str] | None, str | None]) -> str:
            own, fallback = resolved
            chosen = (own or {}).get(node) or fallback
            if not chosen:
                raise ValueError(f"KubeadmCluster: node {node!r} has no SSH private key")
            return chosen

        return pulumi.Output.all(keys, default).apply(lambda r: pick((r[0], r[1])))
    own = (keys or {}).get(node)
    if own is not None:
        return own
    if default is None:
        problems.error(key, f"no SSH private key: set sshPrivateKey or nodePrivateKeys.{node}")
    return default


def cluster_spec(args: Mapping[str, Any], default_name: str) -> ClusterSpec:
    """The real component's ClusterSpec; every problem in the inputs at once (PluginInputError)."""
    problems = Problems()
    # Keys may be Outputs (secrets); everything else names resources or goes into kubeadm's files.
    check_plain(args, problems, inputs_ok=frozenset({"ssh_private_key", "node_private_keys"}))
    raise_if_any("KubeadmCluster", problems)

    name = text(args.get("cluster_name") or default_name)
    if not DNS1123_LABEL.match(name):
        problems.error("clusterName", f"{name!r} is not a DNS-1123 label (lowercase letters, digits, '-')")
    version = _version(args.get("kubernetes_version"), problems)
    pod = cidr(args.get("pod_cidr", DEFAULT_POD_CIDR), "podCidr", problems)
    svc = cidr(args.get("service_cidr", DEFAULT_SERVICE_CIDR), "serviceCidr", problems)
    try:
        if ipaddress.IPv4Network(pod).overlaps(ipaddress.IPv4Network(svc)):
            problems.error("serviceCidr", f"{svc} overlaps the pod CIDR {pod}")
    except ValueError:
        pass  # already reported
    api_port = integer(args.get("api_port", 6443), "apiPort", problems, lo=1, hi=65535)

    ssh_raw: Mapping[str, Any] = args.get("ssh") or {}
    if not ssh_raw.get("user"):
        problems.error("ssh.user", "an SSH user is required")
    default_key = args.get("ssh_private_key")
    keys = args.get("node_private_keys")

    nodes: list[NodeSpec] = []
    seen_names: set[str] = set()
    seen_addresses: dict[str, str] = {}
    raw_nodes = args.get("nodes") or []
    if not raw_nodes:
        problems.error("nodes", "at least one node is required")
    for i, raw in enumerate(raw_nodes):
        key = f"nodes[{i}]"
        node_name = text(raw.get("name", ""))
        if not DNS1123_LABEL.match(node_name):
            problems.error(f"{key}.name", f"{node_name!r} is not a DNS-1123 label (lowercase letters, digits, '-')")
        if node_name in seen_names:
            problems.error(f"{key}.name", f"{node_name!r} is listed twice")
        seen_names.add(node_name)
        address = ipv4(raw.get("address", ""), f"{key}.address", problems)
        if address in seen_addresses:
            problems.error(f"{key}.address", f"{address} is already node {seen_addresses[address]}'s address")
        seen_addresses.setdefault(address, node_name)
        role = text(raw.get("role", NodeRole.Worker))
        if role not in (NodeRole.ControlPlane.value, NodeRole.Worker.value):
            problems.error(f"{key}.role", f"{role!r} must be control-plane or worker")
        own: Mapping[str, Any] = raw.get("ssh") or {}
        port = integer(own.get("port", ssh_raw.get("port", 22)), f"{key}.ssh.port", problems, lo=1, hi=65535)
        host_key = own.get("host_key", ssh_raw.get("host_key"))
        ssh = SshAccess(
            user=text(own.get("user") or ssh_raw.get("user", "")),
            private_key=_private_key(node_name, keys, default_key, key, problems) or "",
            port=port,
            host_key=text(host_key) if host_key else None,
        )
        nodes.append(
            NodeSpec(
                name=node_name,
                address=address,
                role="control-plane" if role == NodeRole.ControlPlane.value else "worker",
                ssh=ssh,
                prepare=bool(raw.get("prepare", True)),
                labels=string_map(raw.get("labels")),
            )
        )
    if isinstance(keys, Mapping):
        for unknown in sorted(set(keys) - seen_names):
            problems.error(f"nodePrivateKeys.{unknown}", "no node has this name")
    control_planes = [n for n in nodes if n.is_control_plane]
    if raw_nodes and not control_planes:
        problems.error("nodes", "at least one node must have role control-plane")

    endpoint = args.get("endpoint")
    vip = endpoint is not None
    if vip:
        endpoint = ipv4(endpoint, "endpoint", problems)
        if endpoint in seen_addresses:
            owner = seen_addresses[endpoint]
            problems.error("endpoint", f"{endpoint} is node {owner}'s address; the VIP needs its own")
    else:
        endpoint = control_planes[0].address if control_planes else ""
    extra_sans = strings(args.get("extra_sans"))
    for i, san in enumerate(extra_sans):
        try:
            ipaddress.ip_address(san)
        except ValueError:
            if not DNS1123_SUBDOMAIN.match(san):
                problems.error(f"extraSans[{i}]", f"{san!r} is neither a DNS name nor an IP address")
    api_server = _api_server(args.get("api_server"), problems)
    packages = _packages(args.get("packages"), version, problems)
    image_repository = text(args.get("image_repository", ""))
    if image_repository and (problem := check_image_repository(image_repository)):
        problems.error("imageRepository", problem)
    registries = _registries(args.get("registries"), problems)
    raise_if_any("KubeadmCluster", problems)
    return ClusterSpec(
        name=name,
        kubernetes_version=version,
        nodes=tuple(nodes),
        pod_cidr=pod,
        service_cidr=svc,
        endpoint=str(endpoint),
        vip=vip,
        api_port=api_port,
        dns_domain=text(args.get("dns_domain", "cluster.local")),
        extra_sans=extra_sans,
        kube_proxy=bool(args.get("kube_proxy", False)),
        vip_interface=text(args.get("vip_interface", "")),
        api_server=api_server,
        kube_vip_image=text(args.get("kube_vip_image", f"ghcr.io/kube-vip/kube-vip:{KUBE_VIP_VERSION}")),
        packages=packages,
        image_repository=image_repository,
        registries=registries,
    )


class KubeadmCluster(pulumi.ComponentResource):
    """A kubeadm Kubernetes cluster on machines reached over SSH.

    Each node is prepared (containerd, kubelet, kubeadm), the first control plane runs
    `kubeadm init` once, the others join; the admin kubeconfig comes back as a secret.
    Build a Kubernetes provider from `kubeconfig` (with `clusterIdentifier` as its
    cluster_identifier) and pass it to the other homelab components.
    """

    kubeconfig: pulumi.Output[str]
    """Admin kubeconfig (secret)."""
    api_endpoint: pulumi.Output[str]
    """https://<endpoint>:<port> of the API server."""
    ca_certificate: pulumi.Output[str]
    """The cluster CA certificate (PEM)."""
    cluster_identifier: pulumi.Output[str]
    """Give it to your Kubernetes provider as cluster_identifier: a rewritten kubeconfig then replaces nothing."""
    cluster_nodes: pulumi.Output[list[ClusterNodeInfo]]
    """Name, address and role of every node."""

    def __init__(self, name: str, args: KubeadmClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TOKEN, name, None, opts)
        spec = cluster_spec(args, default_name=name)
        inner = RealKubeadmCluster(name, spec, opts=child_options(self, opts))
        self.kubeconfig = pulumi.Output.secret(inner.kubeconfig)
        self.api_endpoint = inner.api_endpoint
        self.ca_certificate = inner.ca_certificate
        self.cluster_identifier = pulumi.Output.from_input(spec.name)
        self.cluster_nodes = pulumi.Output.from_input(inner.nodes)
        self.register_outputs(
            {
                "kubeconfig": self.kubeconfig,
                "apiEndpoint": self.api_endpoint,
                "caCertificate": self.ca_certificate,
                "clusterIdentifier": self.cluster_identifier,
                "clusterNodes": self.cluster_nodes,
            }
        )
