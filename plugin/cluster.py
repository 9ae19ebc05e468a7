"""KubeadmCluster for other Pulumi languages: inputs derived from the cluster's models → ClusterSpec.

The SSH private keys are top-level inputs of their own: a secret nested in `nodes` or
`ssh` would turn that whole input into one secret Output, and node names and
addresses must be plain to name resources and render kubeadm's configuration.
The values are checked by the models shared with the stack sections
(components/cluster/model.py); the rules across entries are here, as lab/cluster.py
has them for a stack.
"""

import ipaddress
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypedDict, TypeVar

import pulumi
from pydantic_core import PydanticCustomError

from components.cluster.component import KubeadmCluster as RealKubeadmCluster
from components.cluster.model import (
    DEFAULT_POD_CIDR,
    DEFAULT_SERVICE_CIDR,
    AuthorizerSettings,
    ClusterFields,
    ClusterSpec,
    ExtraArgs,
    HostKey,
    ImageRepository,
    JwtIssuerSettings,
    NodeFields,
    NodeRole,
    NodeSpec,
    PackageSource,
    RegistryHost,
    SshAccess,
    api_server_config,
    conflicting_args,
    kubernetes_version,
)
from components.model import Label, Model, Port, dns_label, non_empty, parse, plain
from components.validation import Problems
from components.versions import DEFAULT_KUBERNETES_VERSION, KUBE_VIP_VERSION
from plugin.derive import Extra, plugin_inputs
from plugin.inputs import check_plain, child_options, raise_if_any

TOKEN = "homelab:index:KubeadmCluster"
T = TypeVar("T")


class SshInputs(Model):
    """How Pulumi reaches every node over SSH; the private key is the separate sshPrivateKey input."""

    user: str
    """SSH user with passwordless sudo (or root)."""
    port: Port = 22
    """SSH port (default 22)."""
    host_key: HostKey | None = None
    """The hosts' public key, pinned when known."""


class NodeSshInputs(Model):
    """Per-node overrides of the cluster-wide SSH settings."""

    user: str | None = None
    """SSH user on this node."""
    port: Port | None = None
    """SSH port on this node."""
    host_key: HostKey | None = None
    """This node's public host key."""


class NodeInputs(NodeFields):
    """One machine of the cluster."""

    ssh: NodeSshInputs | None = None
    """Overrides of the cluster-wide SSH settings for this node."""


class ApiServerInputs(Model):
    """Structured API server configuration and extra flags."""

    jwt: tuple[JwtIssuerSettings, ...] = ()
    """JWT issuers (structured authentication); excludes oidc-* extra args."""
    authorizers: tuple[AuthorizerSettings, ...] = ()
    """Authorizer chain (structured authorization); excludes authorization-mode extra args."""
    extra_args: ExtraArgs = {}
    """Extra kube-apiserver flags, without the leading --."""


class KubeadmClusterInputs(ClusterFields):
    """Inputs of KubeadmCluster."""

    nodes: Annotated[tuple[NodeInputs, ...], non_empty("at least one node is required")]
    """The machines, control planes first is customary; the first control plane bootstraps the cluster."""
    ssh: SshInputs
    """SSH access for every node (per-node overrides in nodes[].ssh)."""
    cluster_name: Label | None = None
    """kubeadm's clusterName and the provider's cluster identity (default: the resource name)."""
    vip_interface: str = ""
    """NIC kube-vip announces the VIP on (default: the default route's)."""
    kube_vip_image: str = f"ghcr.io/kube-vip/kube-vip:{KUBE_VIP_VERSION}"
    """kube-vip image (default: the version this package pins)."""
    api_server: ApiServerInputs = ApiServerInputs()
    """Structured authentication/authorization and extra API server flags."""
    packages: PackageSource = PackageSource()
    """Where the hosts get kubelet, kubeadm and kubectl (a mirror, an air-gapped repository)."""
    image_repository: ImageRepository = ""
    """kubeadm's imageRepository, also the pause image's (default registry.k8s.io)."""
    registries: tuple[RegistryHost, ...] = ()
    """containerd's per-registry settings (plain HTTP or a private CA) on every node."""


KEYS = ("ssh_private_key", "node_private_keys")  # Inputs (secrets), not model fields

KubeadmClusterArgs = plugin_inputs(
    KubeadmClusterInputs,
    "KubeadmClusterArgs",
    names={
        SshInputs: "SshSettings",
        NodeSshInputs: "NodeSsh",
        NodeInputs: "ClusterNode",
        ApiServerInputs: "ApiServerSettings",
        JwtIssuerSettings: "JwtIssuerSettings",
        AuthorizerSettings: "AuthorizerSettings",
        PackageSource: "PackageSettings",
        RegistryHost: "RegistrySettings",
    },
    extra={
        "ssh_private_key": Extra(
            pulumi.Input[str], "SSH private key (PEM/OpenSSH) for every node; pass it as a secret."
        ),
        "node_private_keys": Extra(
            dict[str, pulumi.Input[str]],
            "Per-node SSH private keys by node name, for nodes that don't use sshPrivateKey; secrets.",
        ),
    },
)


class ClusterNodeInfo(TypedDict):
    """A node as the cluster reports it in its outputs."""

    name: str
    """Node name."""
    address: str
    """LAN address."""
    role: str
    """control-plane or worker."""


def _lenient(raw: Any, name: str, read: Callable[[str], T], default: Any = None) -> T | None:
    """`raw[name]` read by `read`, or None when absent or wrong (the model reports it)."""
    value = raw.get(name, default) if isinstance(raw, Mapping) else default
    if not isinstance(value, str):
        return None
    try:
        return read(value)
    except (ValueError, PydanticCustomError):
        return None


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
        problems.error(key, f"no SSH private key: set sshPrivateKey or nodePrivateKeys[{node}]")
    return default


def _check_across(args: Mapping[str, Any], problems: Problems) -> None:
    """Rules across entries, on every value valid by itself (the model reports the others)."""
    nodes = args.get("nodes")
    seen_names: set[str] = set()
    seen_addresses: dict[str, str] = {}
    roles: list[str] = []
    for i, raw in enumerate(nodes if isinstance(nodes, list) else []):
        name = _lenient(raw, "name", dns_label)
        if name is not None and name in seen_names:
            problems.error(f"nodes[{i}].name", f"{name!r} is listed twice")
        seen_names.add(name or "")
        address = _lenient(raw, "address", lambda t: str(ipaddress.IPv4Address(t)))
        if address is not None and address in seen_addresses:
            problems.error(f"nodes[{i}].address", f"{address} is already node {seen_addresses[address]}'s address")
        if address is not None:
            seen_addresses.setdefault(address, name or "?")
        roles.append(str(plain(raw.get("role", "worker"))) if isinstance(raw, Mapping) else "")
        if name is not None and not isinstance(args.get("node_private_keys"), pulumi.Output):
            _private_key(name, args.get("node_private_keys"), args.get("ssh_private_key"), f"nodes[{i}]", problems)
    if nodes and "control-plane" not in roles:
        problems.error("nodes", "at least one node must have role control-plane")
    endpoint = _lenient(args, "endpoint", lambda t: str(ipaddress.IPv4Address(t)))
    if endpoint is not None and endpoint in seen_addresses:
        problems.error("endpoint", f"{endpoint} is node {seen_addresses[endpoint]}'s address; the VIP needs its own")
    pod = _lenient(args, "pod_cidr", ipaddress.IPv4Network, DEFAULT_POD_CIDR)
    svc = _lenient(args, "service_cidr", ipaddress.IPv4Network, DEFAULT_SERVICE_CIDR)
    if pod is not None and svc is not None and pod.overlaps(svc):
        problems.error("serviceCidr", f"{svc} overlaps the pod CIDR {pod}")
    keys = args.get("node_private_keys")
    if isinstance(keys, Mapping):
        for unknown in sorted(set(keys) - seen_names):
            problems.error(f"nodePrivateKeys[{unknown}]", "no node has this name")
    api = args.get("api_server")
    if isinstance(api, Mapping):
        for arg, why in conflicting_args(api.get("extra_args"), api.get("jwt"), api.get("authorizers")):
            problems.error(f"apiServer.extraArgs[{arg}]", why)
    packages = args.get("packages")
    if isinstance(packages, Mapping) and packages.get("signing_key") and packages.get("signing_key_url"):
        problems.error("packages.signingKeyUrl", "give signingKey or signingKeyUrl, not both")
    hosts: set[str] = set()
    registries = args.get("registries")
    for i, raw in enumerate(registries if isinstance(registries, list) else []):
        host = raw.get("host") if isinstance(raw, Mapping) else None
        if isinstance(host, str) and host in hosts:
            problems.error(f"registries[{i}].host", f"{host!r} is listed twice")
        hosts.add(str(host))


def cluster_spec(args: Mapping[str, Any], default_name: str) -> ClusterSpec:
    """The real component's ClusterSpec; every problem in the inputs at once (PluginInputError)."""
    problems = Problems()
    # Keys may be Outputs (secrets); everything else names resources or goes into kubeadm's files.
    check_plain(args, problems, inputs_ok=frozenset(KEYS))
    raise_if_any("KubeadmCluster", problems)
    values = plain({k: v for k, v in args.items() if k not in KEYS})
    version = _lenient(values, "kubernetes_version", kubernetes_version, DEFAULT_KUBERNETES_VERSION)
    inputs = parse(KubeadmClusterInputs, values, "", problems, context={"kubernetes_version": version})
    _check_across(values | {k: args[k] for k in KEYS if k in args}, problems)
    if values.get("cluster_name") is None and _lenient({"name": default_name}, "name", dns_label) is None:
        problems.error("clusterName", f"{default_name!r} (the resource name) is not a DNS-1123 label; set clusterName")
    default_key = args.get("ssh_private_key")
    keys = args.get("node_private_keys")
    nodes: list[NodeSpec] = []
    for i, node in enumerate(inputs.nodes if inputs else ()):
        cluster_wide = inputs.ssh if inputs else SshInputs(user="")
        own = node.ssh or NodeSshInputs()
        ssh = SshAccess(
            user=own.user or cluster_wide.user,
            private_key=_private_key(node.name, keys, default_key, f"nodes[{i}]", Problems()) or "",
            port=own.port if own.port is not None else cluster_wide.port,
            host_key=own.host_key or cluster_wide.host_key,
        )
        role = "control-plane" if node.role == NodeRole.ControlPlane else "worker"
        nodes.append(NodeSpec(node.name, node.address, role, ssh, node.prepare, dict(node.labels)))
    raise_if_any("KubeadmCluster", problems)
    assert inputs is not None  # no problems: the model validated
    control_planes = [n for n in nodes if n.is_control_plane]
    return ClusterSpec(
        name=inputs.cluster_name or default_name,
        kubernetes_version=inputs.kubernetes_version,
        nodes=tuple(nodes),
        pod_cidr=inputs.pod_cidr,
        service_cidr=inputs.service_cidr,
        endpoint=inputs.endpoint or control_planes[0].address,
        vip=inputs.endpoint is not None,
        api_port=inputs.api_port,
        dns_domain=inputs.dns_domain,
        extra_sans=inputs.extra_sans,
        kube_proxy=inputs.kube_proxy,
        vip_interface=inputs.vip_interface,
        api_server=api_server_config(
            inputs.api_server.jwt, inputs.api_server.authorizers, inputs.api_server.extra_args
        ),
        kube_vip_image=inputs.kube_vip_image,
        packages=inputs.packages,
        image_repository=inputs.image_repository,
        registries=inputs.registries,
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
