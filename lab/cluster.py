"""`homelab:lan`, `homelab:cluster`, `homelab:ssh`, `homelab:nodes` → ClusterSpec + LabContext."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from components.cluster.apiserver_config import conflicts
from components.cluster.model import ApiServerConfig, ClusterSpec, JwtIssuer, NodeSpec, SshAccess, WebhookAuthorizer
from components.validation import (
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    IPRange,
    IPv4,
    Net,
    Problems,
    parse_cidr,
    parse_ip,
    parse_range,
)
from components.versions import DEFAULT_KUBERNETES_VERSION, SUPPORTED_KUBERNETES_MINORS
from lab.context import LabContext, Section
from lab.packages import parse_image_repository, parse_registries

VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
ROLES = ("control-plane", "worker")


@dataclass(frozen=True)
class Lan:
    cidr: Net | None
    gateway: IPv4 | None
    dhcp_range: IPRange | None


def parse_lan(raw: Any, problems: Problems) -> Lan:
    s = Section(raw, "homelab:lan", problems)
    s.unknown({"cidr", "gateway", "dhcpRange"})
    cidr_text = s.str("cidr", required=True)
    cidr = parse_cidr(cidr_text, s.sub("cidr"), problems) if cidr_text else None
    gw_text = s.str("gateway", required=True)
    gateway = parse_ip(gw_text, s.sub("gateway"), problems) if gw_text else None
    if cidr and gateway and gateway not in cidr:
        problems.error(s.sub("gateway"), f"{gateway} is outside the LAN {cidr}")
    dhcp = None
    if (text := s.str("dhcpRange")) is not None:
        dhcp = parse_range(text, s.sub("dhcpRange"), problems)
        if cidr and dhcp and not dhcp.within(cidr):
            problems.error(s.sub("dhcpRange"), f"{dhcp} is not inside the LAN {cidr}")
    return Lan(cidr, gateway, dhcp)


HOST_KEY = re.compile(r"^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-\S+)\s+[A-Za-z0-9+/]+={0,3}(\s.*)?$")


def warn_unpinned_host_keys(nodes: list[NodeSpec], problems: Problems) -> None:
    """One warning for the nodes whose host key is not pinned: SSH then trusts any key."""
    unpinned = [n.name for n in nodes if not n.ssh.host_key]
    if unpinned:
        problems.warn(
            "homelab:nodes",
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


def parse_ssh(
    raw: Any,
    key: str,
    problems: Problems,
    *,
    secret: bool,
    default: SshAccess | None = None,
    preview: bool = False,
) -> SshAccess | None:
    """SSH access: `user` plus `privateKey` (a secret) or `privateKeyPath`; `port`, `hostKey`."""
    s = Section(raw, key, problems)
    s.unknown({"user", "privateKey", "privateKeyPath", "port", "hostKey"})
    user = s.str("user", default.user if default else None)
    port = s.int("port", default.port if default else 22, lo=1, hi=65535) or 22
    host_key = s.str("hostKey")
    if host_key is not None and not HOST_KEY.match(host_key.strip()):
        problems.error(s.sub("hostKey"), "must be one public key as `ssh-keyscan` prints it: 'ssh-ed25519 AAAA...'")
    private_key: pulumi.Input[str] | None = default.private_key if default else None
    key_from_state = default.key_from_state if default else False
    if "privateKey" in s.raw and "privateKeyPath" in s.raw:
        problems.error(s.sub("privateKey"), "give privateKey or privateKeyPath, not both")
    elif "privateKey" in s.raw:
        if not secret:
            problems.error(
                s.sub("privateKey"),
                "must be a secret: set it with `pulumi config set --secret --path "
                f"'{key.split(':', 1)[1]}.privateKey' < ~/.ssh/id_ed25519`",
            )
        text = s.str("privateKey")
        private_key = pulumi.Output.secret(text) if text else None
        key_from_state = False
    elif (path := s.str("privateKeyPath")) is not None:
        text = _read_key_file(path, s.sub("privateKeyPath"), problems, preview=preview)
        private_key = pulumi.Output.secret(text) if text is not None else None
        key_from_state = text == PREVIEW_KEY_PLACEHOLDER
    if not user:
        problems.error(s.sub("user"), "an SSH user is required")
    if private_key is None and "privateKeyPath" not in s.raw and "privateKey" not in s.raw:
        problems.error(
            s.sub("privateKey"), "an SSH private key is required (privateKey as a secret, or privateKeyPath)"
        )
    if not user or private_key is None:
        return None
    return SshAccess(user=user, private_key=private_key, port=port, host_key=host_key, key_from_state=key_from_state)


def parse_version(text: str | None, key: str, problems: Problems) -> str | None:
    if text is None:
        return DEFAULT_KUBERNETES_VERSION
    m = VERSION.match(text.strip())
    if not m:
        problems.error(key, f"{text!r} is not a Kubernetes version like {DEFAULT_KUBERNETES_VERSION}")
        return None
    major, minor, _ = (int(g) for g in m.groups())
    lo, hi = SUPPORTED_KUBERNETES_MINORS
    if major != 1 or not lo <= minor <= hi:
        problems.error(key, f"{text} is outside the supported range 1.{lo}–1.{hi}")
        return None
    return ".".join(m.groups())


def _is_name_or_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return bool(DNS1123_SUBDOMAIN.match(value))


def parse_api_server(raw: Any, problems: Problems) -> ApiServerConfig:
    key = "homelab:cluster.apiServer"
    s = Section(raw, key, problems)
    s.unknown({"extraArgs", "authentication", "authorization"})
    extra_args: dict[str, str] = {}
    for k, v in s.mapping("extraArgs").items():
        if isinstance(v, bool | dict | list) or v is None:
            problems.error(f"{key}.extraArgs.{k}", "must be a string")
            continue
        extra_args[str(k).removeprefix("--")] = str(v)

    jwt: list[JwtIssuer] = []
    authn = Section(s.mapping("authentication"), f"{key}.authentication", problems)
    authn.unknown({"jwt"})
    for i, item in enumerate(authn.list("jwt")):
        j = Section(item, f"{key}.authentication.jwt[{i}]", problems)
        j.unknown(
            {
                "issuer",
                "audiences",
                "usernameClaim",
                "usernamePrefix",
                "groupsClaim",
                "groupsPrefix",
                "certificateAuthority",
            }
        )
        url = j.str("issuer", required=True)
        if url and not url.startswith("https://"):
            problems.error(j.sub("issuer"), f"{url!r} must be an https:// URL")
        audiences = [str(a) for a in j.list("audiences")]
        if not audiences:
            problems.error(j.sub("audiences"), "at least one audience is required")
        if url:
            jwt.append(
                JwtIssuer(
                    url=url,
                    audiences=tuple(audiences),
                    username_claim=j.str("usernameClaim", "sub") or "sub",
                    username_prefix=j.str("usernamePrefix", "") or "",
                    groups_claim=j.str("groupsClaim"),
                    groups_prefix=j.str("groupsPrefix", "") or "",
                    certificate_authority=j.str("certificateAuthority"),
                )
            )

    config_dir = ApiServerConfig().config_dir
    authorizers: list[str | WebhookAuthorizer] = []
    authz = Section(s.mapping("authorization"), f"{key}.authorization", problems)
    authz.unknown({"authorizers"})
    for i, item in enumerate(authz.list("authorizers")):
        a = Section(item, f"{key}.authorization.authorizers[{i}]", problems)
        a.unknown({"type", "name", "kubeConfigFile", "timeout", "failurePolicy", "matchConditions"})
        kind = a.str("type", required=True)
        if kind in ("Node", "RBAC"):
            authorizers.append(kind)
        elif kind == "Webhook":
            name = a.str("name", required=True)
            path = a.str("kubeConfigFile", required=True)
            if path and not path.startswith(config_dir + "/"):
                problems.error(
                    a.sub("kubeConfigFile"), f"must be under {config_dir}/ (the directory mounted into the API server)"
                )
            policy = a.str("failurePolicy", "Deny")
            if policy not in ("Deny", "NoOpinion"):
                problems.error(a.sub("failurePolicy"), f"{policy!r} must be Deny or NoOpinion")
                policy = "Deny"
            if name and path:
                authorizers.append(
                    WebhookAuthorizer(
                        name=name,
                        kubeconfig_path=path,
                        timeout=a.str("timeout", "3s") or "3s",
                        failure_policy="NoOpinion" if policy == "NoOpinion" else "Deny",
                        match_conditions=tuple(str(e) for e in a.list("matchConditions")),
                    )
                )
        elif kind is not None:
            problems.error(a.sub("type"), f"{kind!r} must be Node, RBAC or Webhook")
    if authorizers and "RBAC" not in authorizers:
        problems.warn(f"{key}.authorization.authorizers", "no RBAC authorizer: kubeadm's own bindings will not apply")

    cfg = ApiServerConfig(jwt=tuple(jwt), authorizers=tuple(authorizers), extra_args=extra_args)
    for arg, why in conflicts(cfg):
        problems.error(f"{key}.extraArgs.{arg}", why)
    return cfg


@dataclass(frozen=True)
class ClusterSettings:
    spec: ClusterSpec | None
    context: LabContext


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
    c = Section(cluster_raw, "homelab:cluster", problems)
    c.unknown(
        {
            "name",
            "kubernetesVersion",
            "endpoint",
            "apiPort",
            "podCidr",
            "serviceCidr",
            "dnsDomain",
            "extraSans",
            "kubeProxy",
            "vipInterface",
            "apiServer",
            "imageRepository",
            "registries",
        }
    )
    name = c.str("name", "homelab") or "homelab"
    if not DNS1123_LABEL.match(name):
        problems.error(c.sub("name"), f"{name!r} is not a DNS-1123 label (lowercase letters, digits, '-')")
    version = parse_version(c.str("kubernetesVersion"), c.sub("kubernetesVersion"), problems)
    pod_cidr = parse_cidr(c.str("podCidr", "10.244.0.0/16"), c.sub("podCidr"), problems)
    service_cidr = parse_cidr(c.str("serviceCidr", "10.96.0.0/12"), c.sub("serviceCidr"), problems)
    if pod_cidr and service_cidr and pod_cidr.overlaps(service_cidr):
        problems.error(c.sub("serviceCidr"), f"{service_cidr} overlaps the pod CIDR {pod_cidr}")
    for cidr, sub in ((pod_cidr, "podCidr"), (service_cidr, "serviceCidr")):
        if cidr and lan.cidr and cidr.overlaps(lan.cidr):
            problems.error(c.sub(sub), f"{cidr} overlaps the LAN {lan.cidr}")
    api_port = c.int("apiPort", 6443, lo=1, hi=65535) or 6443
    dns_domain = c.str("dnsDomain", "cluster.local") or "cluster.local"
    extra_sans = [str(x) for x in c.list("extraSans")]
    for i, san in enumerate(extra_sans):
        if not _is_name_or_ip(san):
            problems.error(f"{c.sub('extraSans')}[{i}]", f"{san!r} is neither a DNS name nor an IP address")
    api_server = parse_api_server(c.mapping("apiServer"), problems)
    image_repository = parse_image_repository(c)
    registries = parse_registries(c, image_repository)

    default_ssh = (
        parse_ssh(ssh_raw, "homelab:ssh", problems, secret="homelab:ssh" in secret_keys, preview=preview)
        if ssh_raw
        else None
    )

    nodes: list[NodeSpec] = []
    addresses: dict[str, IPv4] = {}
    seen_names: dict[str, int] = {}
    seen_addr: dict[IPv4, str] = {}
    if not isinstance(nodes_raw, list):
        problems.error("homelab:nodes", "must be a list of nodes")
        nodes_raw = []
    for i, item in enumerate(nodes_raw):
        key = f"homelab:nodes[{i}]"
        n = Section(item, key, problems)
        n.unknown({"name", "address", "role", "prepare", "labels", "ssh"})
        node_name = n.str("name", required=True)
        if node_name is not None:
            if not DNS1123_LABEL.match(node_name):
                problems.error(n.sub("name"), f"{node_name!r} is not a DNS-1123 label (lowercase letters, digits, '-')")
            if node_name in seen_names:
                problems.error(
                    n.sub("name"), f"{node_name!r} is already used by homelab:nodes[{seen_names[node_name]}]"
                )
            seen_names.setdefault(node_name, i)
        addr_text = n.str("address", required=True)
        addr = parse_ip(addr_text, n.sub("address"), problems) if addr_text else None
        if addr is not None:
            if lan.cidr and addr not in lan.cidr:
                problems.error(n.sub("address"), f"{addr} is outside the LAN {lan.cidr}")
            if lan.gateway and addr == lan.gateway:
                problems.error(n.sub("address"), f"{addr} is the router's address")
            if lan.dhcp_range and addr in lan.dhcp_range:
                problems.warn(n.sub("address"), f"{addr} is inside the DHCP range; reserve it on the router")
            if addr in seen_addr:
                problems.error(n.sub("address"), f"{addr} is already node {seen_addr[addr]}'s address")
            seen_addr.setdefault(addr, node_name or "?")
        role = n.str("role", "worker")
        if role not in ROLES:
            problems.error(n.sub("role"), f"{role!r} must be one of {', '.join(ROLES)}")
        prepare = n.bool("prepare", True)
        labels = {str(k): str(v) for k, v in n.mapping("labels").items()}
        ssh = default_ssh
        if "ssh" in n.raw:
            ssh = parse_ssh(
                n.raw["ssh"],
                f"{key}.ssh",
                problems,
                secret="homelab:nodes" in secret_keys,
                default=default_ssh,
                preview=preview,
            )
        elif default_ssh is None and not ssh_raw:
            problems.error(f"{key}.ssh", "no SSH access: set homelab:ssh or this node's ssh")
        if node_name and addr is not None:
            addresses[node_name] = addr
        if node_name and addr is not None and role in ROLES and ssh is not None:
            nodes.append(
                NodeSpec(
                    name=node_name,
                    address=str(addr),
                    role=role,
                    ssh=ssh,  # type: ignore[arg-type]
                    prepare=prepare,
                    labels=labels,
                )
            )

    warn_unpinned_host_keys(nodes, problems)
    cps = [n for n in nodes_raw if isinstance(n, Mapping) and n.get("role") == "control-plane"]
    if not cps:
        problems.error("homelab:nodes", "at least one node must have role: control-plane")
    elif len(cps) % 2 == 0:
        problems.warn("homelab:nodes", f"{len(cps)} control planes: an even count adds no etcd fault tolerance")

    vip: IPv4 | None = None
    endpoint: IPv4 | None = None
    if (ep := c.str("endpoint")) is not None:
        vip = parse_ip(ep, c.sub("endpoint"), problems)
        if vip is not None:
            if lan.cidr and vip not in lan.cidr:
                problems.error(c.sub("endpoint"), f"{vip} is outside the LAN {lan.cidr}")
            if vip in seen_addr:
                problems.error(c.sub("endpoint"), f"{vip} is node {seen_addr[vip]}'s address; the VIP needs its own")
            if lan.gateway and vip == lan.gateway:
                problems.error(c.sub("endpoint"), f"{vip} is the router's address")
            if lan.dhcp_range and vip in lan.dhcp_range:
                problems.error(c.sub("endpoint"), f"{vip} is inside the DHCP range {lan.dhcp_range}")
        endpoint = vip
    else:
        first_cp = next((n for n in nodes if n.is_control_plane), None)
        endpoint = ipaddress.IPv4Address(first_cp.address) if first_cp else None
        if len(cps) > 1:
            problems.warn(c.sub("endpoint"), "several control planes but no VIP: clients reach the first one only")

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
    if not problems.errors and version and pod_cidr and service_cidr and endpoint is not None:
        spec = ClusterSpec(
            name=name,
            kubernetes_version=version,
            nodes=tuple(nodes),
            pod_cidr=str(pod_cidr),
            service_cidr=str(service_cidr),
            endpoint=str(endpoint),
            vip=vip is not None,
            api_port=api_port,
            dns_domain=dns_domain,
            extra_sans=tuple(extra_sans),
            kube_proxy=c.bool("kubeProxy", False),
            vip_interface=c.str("vipInterface", "") or "",
            api_server=api_server,
            image_repository=image_repository,
            registries=registries,
        )
    return ClusterSettings(spec, context)
