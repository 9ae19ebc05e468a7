"""`homelab:lan`, `homelab:cluster`, `homelab:ssh`, `homelab:nodes` → ClusterSpec + LabContext.

Each section is validated into its model (components/cluster/model.py), which owns the
per-value messages. Here: the rules across sections and entries (addresses in the LAN and
clear of each other, names used once, the SSH settings a node inherits, secrets and key
files), run on every value that is valid by itself so that every problem shows at once.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pulumi
from pydantic_core import PydanticCustomError

from components.cluster.model import (
    DEFAULT_POD_CIDR,
    DEFAULT_SERVICE_CIDR,
    AuthorizerChain,
    ClusterSection,
    ClusterSpec,
    LanSection,
    NodeSection,
    NodeSpec,
    SshAccess,
    SshSettingsSection,
    conflicting_args,
    kubernetes_version,
)
from components.model import dns_label, lenient, parse
from components.validation import IPRange, IPv4, Net, Problems
from lab.context import LabContext
from lab.packages import check_registries, registry_hosts

T = TypeVar("T")
LAN, CLUSTER, SSH, NODES = "homelab:lan", "homelab:cluster", "homelab:ssh", "homelab:nodes"


@dataclass(frozen=True)
class Lan:
    cidr: Net | None
    gateway: IPv4 | None
    dhcp_range: IPRange | None


def _lenient(raw: Any, name: str, read: Callable[[str], T], default: str | None = None) -> T | None:
    """`raw[name]` read by `read`, or None when absent or wrong (the model reports it)."""
    value = raw.get(name, default) if isinstance(raw, Mapping) else default
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    try:
        return read(str(value))
    except (ValueError, PydanticCustomError):
        return None


def _net(text: str) -> Net:
    return ipaddress.IPv4Network(text, strict=True)


def parse_lan(raw: Any, problems: Problems) -> Lan:
    parse(LanSection, raw, LAN, problems)
    cidr = _lenient(raw, "cidr", _net)
    gateway = _lenient(raw, "gateway", ipaddress.IPv4Address)
    dhcp = _lenient(raw, "dhcpRange", IPRange.parse)
    if cidr and gateway and gateway not in cidr:
        problems.error(f"{LAN}.gateway", f"{gateway} is outside the LAN {cidr}")
    if cidr and dhcp and not dhcp.within(cidr):
        problems.error(f"{LAN}.dhcpRange", f"{dhcp} is not inside the LAN {cidr}")
    return Lan(cidr, gateway, dhcp)


def warn_unpinned_host_keys(nodes: list[NodeSpec], problems: Problems) -> None:
    """One warning for the nodes whose host key is not pinned: SSH then trusts any key."""
    unpinned = [n.name for n in nodes if not n.ssh.host_key]
    if unpinned:
        problems.warn(
            NODES,
            f"no ssh.hostKey pinned for {', '.join(unpinned)}: any host key is accepted "
            "(pin each with the key `ssh-keyscan -t ed25519 <address>` prints)",
        )


# Stands in for an unreadable key file during a preview; never sent anywhere (a preview
# runs no command, and the commands diff against the key stored in the state).
PREVIEW_KEY_PLACEHOLDER = "<homelab: SSH key file not read during preview>"


def _read_key_file(path: str, key: str, problems: Problems, *, preview: bool) -> str | None:
    p = Path(os.path.expandvars(os.path.expanduser(path)))
    try:
        return p.read_text()
    except OSError as exc:
        message = f"cannot read the SSH private key file {path!r} ({exc.strerror})"
        if preview:
            # A preview never connects (e.g. a pull-request runner without the key).
            problems.warn(key, message + "; preview goes on with the key in the state, `pulumi up` will stop here")
            return PREVIEW_KEY_PLACEHOLDER
        problems.error(key, message + ": `pulumi up` needs it to reach the nodes")
        return None


def resolve_ssh(
    raw: Any,
    key: str,
    problems: Problems,
    *,
    secret: bool,
    default: SshAccess | None = None,
    preview: bool = False,
) -> SshAccess | None:
    """SSH access from a section (homelab:ssh or a node's ssh) over `default`: the user and
    port it inherits, the key given as a secret or read from a file. The values themselves
    are the model's (SshSettingsSection) to check."""
    section = parse(SshSettingsSection, raw, key, problems)
    given = raw if isinstance(raw, Mapping) else {}
    user = _lenient(given, "user", str) or (default.user if default else None)
    private_key: pulumi.Input[str] | None = default.private_key if default else None
    key_from_state = default.key_from_state if default else False
    if "privateKey" in given and "privateKeyPath" in given:
        problems.error(f"{key}.privateKey", "give privateKey or privateKeyPath, not both")
    elif "privateKey" in given:
        if not secret:
            problems.error(
                f"{key}.privateKey",
                "must be a secret: set it with `pulumi config set --secret --path "
                f"'{key.split(':', 1)[1]}.privateKey' < ~/.ssh/id_ed25519`",
            )
        text = _lenient(given, "privateKey", str)
        private_key = pulumi.Output.secret(text) if text else None
        key_from_state = False
    elif (path := _lenient(given, "privateKeyPath", str)) is not None:
        text = _read_key_file(path, f"{key}.privateKeyPath", problems, preview=preview)
        private_key = pulumi.Output.secret(text) if text is not None else None
        key_from_state = text == PREVIEW_KEY_PLACEHOLDER
    if not user:
        problems.error(f"{key}.user", "an SSH user is required")
    if private_key is None and "privateKeyPath" not in given and "privateKey" not in given:
        problems.error(
            f"{key}.privateKey", "an SSH private key is required (privateKey as a secret, or privateKeyPath)"
        )
    if section is None or not user or private_key is None:
        return None
    port = section.port if section.port is not None else (default.port if default else 22)
    return SshAccess(
        user=user, private_key=private_key, port=port, host_key=section.host_key, key_from_state=key_from_state
    )


@dataclass(frozen=True)
class ClusterSettings:
    spec: ClusterSpec | None
    context: LabContext


def _check_networks(raw: Any, lan: Lan, problems: Problems) -> tuple[Net | None, Net | None]:
    pod = _lenient(raw, "podCidr", _net, DEFAULT_POD_CIDR)
    service = _lenient(raw, "serviceCidr", _net, DEFAULT_SERVICE_CIDR)
    if pod and service and pod.overlaps(service):
        problems.error(f"{CLUSTER}.serviceCidr", f"{service} overlaps the pod CIDR {pod}")
    for cidr, sub in ((pod, "podCidr"), (service, "serviceCidr")):
        if cidr and lan.cidr and cidr.overlaps(lan.cidr):
            problems.error(f"{CLUSTER}.{sub}", f"{cidr} overlaps the LAN {lan.cidr}")
    return pod, service


def _check_api_server(raw: Any, problems: Problems) -> None:
    """Extra args that conflict with the structured config; a chain without RBAC warns."""
    api = raw.get("apiServer") if isinstance(raw, Mapping) else None
    if isinstance(api, Mapping):
        authn, authz = api.get("authentication"), api.get("authorization")
        jwt = authn.get("jwt") if isinstance(authn, Mapping) else None
        authorizers = authz.get("authorizers") if isinstance(authz, Mapping) else None
        for arg, why in conflicting_args(api.get("extraArgs"), jwt, authorizers):
            problems.error(f"{CLUSTER}.apiServer.extraArgs[{arg}]", why)
    chain = lenient(AuthorizerChain, api.get("authorization")) if isinstance(api, Mapping) else None
    if chain is not None and chain.authorizers and "RBAC" not in [a.type for a in chain.authorizers]:
        key = f"{CLUSTER}.apiServer.authorization.authorizers"
        problems.warn(key, "no RBAC authorizer: kubeadm's own bindings will not apply")


def _parse_nodes(
    nodes_raw: Any,
    lan: Lan,
    default_ssh: SshAccess | None,
    ssh_given: bool,
    secret_keys: set[str],
    problems: Problems,
    preview: bool,
) -> tuple[list[NodeSpec], dict[str, IPv4]]:
    nodes: list[NodeSpec] = []
    addresses: dict[str, IPv4] = {}
    seen_names: dict[str, int] = {}
    seen_addr: dict[IPv4, str] = {}
    if not isinstance(nodes_raw, list):
        problems.error(NODES, "must be a list of nodes")
        nodes_raw = []
    for i, item in enumerate(nodes_raw):
        key = f"{NODES}[{i}]"
        node = parse(NodeSection, item, key, problems)
        node_name = _lenient(item, "name", dns_label)
        if node_name is not None:
            if node_name in seen_names:
                problems.error(f"{key}.name", f"{node_name!r} is already used by {NODES}[{seen_names[node_name]}]")
            seen_names.setdefault(node_name, i)
        addr = _lenient(item, "address", ipaddress.IPv4Address)
        if addr is not None:
            if lan.cidr and addr not in lan.cidr:
                problems.error(f"{key}.address", f"{addr} is outside the LAN {lan.cidr}")
            if lan.gateway and addr == lan.gateway:
                problems.error(f"{key}.address", f"{addr} is the router's address")
            if lan.dhcp_range and addr in lan.dhcp_range:
                problems.warn(f"{key}.address", f"{addr} is inside the DHCP range; reserve it on the router")
            if addr in seen_addr:
                problems.error(f"{key}.address", f"{addr} is already node {seen_addr[addr]}'s address")
            seen_addr.setdefault(addr, node_name or "?")
            if node_name:
                addresses[node_name] = addr
        ssh = default_ssh
        if isinstance(item, Mapping) and "ssh" in item:
            ssh = resolve_ssh(
                item["ssh"],
                f"{key}.ssh",
                problems,
                secret=NODES in secret_keys,
                default=default_ssh,
                preview=preview,
            )
        elif default_ssh is None and not ssh_given:
            problems.error(f"{key}.ssh", "no SSH access: set homelab:ssh or this node's ssh")
        if node is not None and ssh is not None:
            role = "control-plane" if node.role == "control-plane" else "worker"
            nodes.append(
                NodeSpec(
                    name=node.name,
                    address=node.address,
                    role=role,
                    ssh=ssh,
                    prepare=node.prepare,
                    labels=dict(node.labels),
                )
            )
    return nodes, addresses


def _get(raw: Any, name: str) -> Any:
    return raw.get(name) if isinstance(raw, Mapping) else None


def parse_cluster(
    lan_raw: Any,
    cluster_raw: Any,
    ssh_raw: Any,
    nodes_raw: Any,
    secret_keys: set[str],
    problems: Problems,
    *,
    preview: bool = False,
) -> ClusterSettings:
    lan = parse_lan(lan_raw, problems)
    cluster = parse(ClusterSection, cluster_raw, CLUSTER, problems)
    pod_cidr, service_cidr = _check_networks(cluster_raw, lan, problems)
    check_registries(cluster_raw, problems)
    _check_api_server(cluster_raw, problems)
    registries = registry_hosts(cluster.registries, problems) if cluster else ()

    default_ssh = resolve_ssh(ssh_raw, SSH, problems, secret=SSH in secret_keys, preview=preview) if ssh_raw else None
    nodes, addresses = _parse_nodes(nodes_raw, lan, default_ssh, bool(ssh_raw), secret_keys, problems, preview)
    warn_unpinned_host_keys(nodes, problems)
    listed = nodes_raw if isinstance(nodes_raw, list) else []
    cps = [n for n in listed if isinstance(n, Mapping) and n.get("role") == "control-plane"]
    if not cps:
        problems.error(NODES, "at least one node must have role: control-plane")
    elif len(cps) % 2 == 0:
        problems.warn(NODES, f"{len(cps)} control planes: an even count adds no etcd fault tolerance")

    node_at = {addr: name for name, addr in addresses.items()}
    vip = _lenient(cluster_raw, "endpoint", ipaddress.IPv4Address)
    endpoint: IPv4 | None = vip
    if vip is not None:
        key = f"{CLUSTER}.endpoint"
        if lan.cidr and vip not in lan.cidr:
            problems.error(key, f"{vip} is outside the LAN {lan.cidr}")
        if vip in node_at:
            problems.error(key, f"{vip} is node {node_at[vip]}'s address; the VIP needs its own")
        if lan.gateway and vip == lan.gateway:
            problems.error(key, f"{vip} is the router's address")
        if lan.dhcp_range and vip in lan.dhcp_range:
            problems.error(key, f"{vip} is inside the DHCP range {lan.dhcp_range}")
    elif _get(cluster_raw, "endpoint") is None:
        first_cp = next((n for n in nodes if n.is_control_plane), None)
        endpoint = ipaddress.IPv4Address(first_cp.address) if first_cp else None
        if len(cps) > 1:
            problems.warn(f"{CLUSTER}.endpoint", "several control planes but no VIP: clients reach the first one only")

    # Read leniently: the other sections check themselves against these even when a
    # neighbouring cluster key is wrong.
    api_port = cluster.api_port if cluster else (_lenient(cluster_raw, "apiPort", int) or 6443)
    dns_domain = cluster.dns_domain if cluster else (_lenient(cluster_raw, "dnsDomain", str) or "cluster.local")
    context = LabContext(
        lan=lan.cidr,
        gateway=lan.gateway,
        dhcp_range=lan.dhcp_range,
        node_addresses=addresses,
        endpoint=endpoint,
        vip=vip,
        pod_cidr=pod_cidr,
        service_cidr=service_cidr,
        api_port=api_port,
        cluster_domain=dns_domain,
    )
    spec = None
    if not problems.errors and cluster is not None and endpoint is not None:
        spec = ClusterSpec(
            name=cluster.name,
            kubernetes_version=cluster.kubernetes_version,
            nodes=tuple(nodes),
            pod_cidr=cluster.pod_cidr,
            service_cidr=cluster.service_cidr,
            endpoint=str(endpoint),
            vip=vip is not None,
            api_port=cluster.api_port,
            dns_domain=cluster.dns_domain,
            extra_sans=cluster.extra_sans,
            kube_proxy=cluster.kube_proxy,
            vip_interface=cluster.vip_interface or "",
            api_server=cluster.api_server.config(),
            image_repository=cluster.image_repository or "",
            registries=registries,
        )
    return ClusterSettings(spec, context)


__all__ = ["ClusterSettings", "Lan", "kubernetes_version", "parse_cluster", "parse_lan", "resolve_ssh"]
