"""FlatNetwork's declared inputs: the component's args, and `homelab:network` in the stack file.

`FlatNetworkArgs` is what FlatNetwork takes (and what the plugin's inputs derive from);
`FlatNetworkSection` is the stack file's form: `enabled` switches for BGP and the LAN
attachment, and no LAN/cluster facts (lab/network.py adds those from the other sections,
with the rules that need them: the attachment range against the LAN, DHCP and nodes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, ValidationInfo, model_validator

from components.model import Cidr, Flag, Int, Interface, IPv4Text, Model, Shown, between, problem
from components.validation import DNS1123_LABEL, MAX_ASN, IPRange
from components.versions import CILIUM_VERSION, MULTUS_VERSION

CILIUM_REPO = "https://helm.cilium.io"
NODE_CIDR_MASK = 24  # kube-controller-manager's default --node-cidr-mask-size, which kubeadm keeps
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


class LanIpamMode(StrEnum):
    """How LAN-attached pods get their LAN address."""

    Static = "static"
    """Each pod names its address in the network-selection annotation."""
    HostLocal = "host-local"
    """Addresses handed out from the range by each node (single-node labs only: ranges are per node)."""


class DnsRejectResponse(StrEnum):
    """What Cilium's DNS proxy answers to a lookup the policy does not allow."""

    Refused = "refused"
    """REFUSED."""
    NxDomain = "nameError"
    """NXDOMAIN."""


LanIpam = LanIpamMode  # a str: `lan.ipam == "static"` holds
DnsRejectCode = DnsRejectResponse


# --- values ------------------------------------------------------------------------------


def _range(text: str) -> str:
    """`a-b`, one address or a CIDR, as `first-last` (how the attachment's IPAM takes it)."""
    try:
        rng = IPRange.parse(text)
    except ValueError as exc:
        raise problem("range", f"{text!r} is not an address range `a-b`, an address or a CIDR ({exc})") from None
    return f"{rng.first}-{rng.last}"


def _namespace(name: str) -> str:
    if not DNS1123_LABEL.match(name):
        raise problem("namespace", f"{name!r} is not a namespace name")
    return name


def _namespaces(names: tuple[str, ...]) -> tuple[str, ...]:
    if not names:
        raise problem("namespaces", "must be a non-empty list of namespace names")
    for i, name in enumerate(names):
        if name in names[:i]:
            raise problem("namespaces", f"{name} is listed twice", at=f"[{i}]")
    return names


def _attachment_name(name: str) -> str:
    if not DNS1123_LABEL.match(name):
        raise problem("name", f"{name!r} is not a valid NetworkAttachmentDefinition name")
    return name


def _label_key(key: str) -> str:
    if not LABEL_KEY.match(key):
        raise problem("label", f"{key!r} is not a valid label key")
    return key


def _label_value(value: Any) -> Any:
    # Strictly a string: `zone: 01` in YAML is the integer 1, not the label value "01".
    if not isinstance(value, str) or not LABEL_VALUE.match(value):
        raise problem("label", f"{value!r} is not a valid label value (quote numbers)")
    return value


def _api_host(text: str) -> str:
    if not text.strip():
        raise problem("api_host", "the API server address is required")
    return text


IPv4 = IPv4Text
Asn = Annotated[Int, between(1, MAX_ASN)]
AddressRange = Annotated[str, AfterValidator(_range)]
Namespaces = Annotated[tuple[Annotated[str, AfterValidator(_namespace)], ...], AfterValidator(_namespaces)]
AttachmentName = Annotated[str, AfterValidator(_attachment_name)]
NodeSelector = dict[Annotated[str, AfterValidator(_label_key)], Annotated[str, BeforeValidator(_label_value)]]


# --- the component's args ------------------------------------------------------------------


class CiliumChart(Model):
    """Where the Cilium chart comes from: a repo + pinned version, or a local chart (dir or .tgz)."""

    repo: str = CILIUM_REPO
    """Chart repository URL (default: Cilium's)."""
    version: str = CILIUM_VERSION
    """Chart version (default: the version this project pins)."""
    path: str | None = None
    """A local chart directory or .tgz; takes no repo or version (tests, offline runs)."""

    @model_validator(mode="before")
    @classmethod
    def _path_alone(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("path") is not None:
            if any(data.get(k) is not None for k in ("repo", "version")):
                raise problem("chart", "a local chart path takes no repo or version; set one or the other", at="path")
        return data


class NodeAddress(Model):
    """A node's name and LAN address, listed in the order the nodes join (control planes first)."""

    name: str
    """Node name, as in the cluster."""
    address: IPv4
    """The node's LAN IPv4 address."""


class BgpPeering(Model):
    """Cilium's BGP control plane: every selected node peers with the home router."""

    local_asn: Asn
    """The cluster's ASN."""
    peer_asn: Asn
    """The router's ASN."""
    peer_address: IPv4
    """The router's IPv4 address."""
    node_selector: NodeSelector = {}
    """Labels of the nodes that peer (default: every node)."""
    advertise_pod_cidr: Flag = True
    """Announce each node's pod CIDR (default true)."""
    advertise_load_balancer_ips: Flag = True
    """Announce LoadBalancer IPs (default true)."""


class LanAttachment(Model):
    """A second pod interface on the LAN itself (Multus + macvlan), for mDNS/SSDP workloads."""

    interface: Interface
    """The nodes' LAN NIC (same name on every node)."""
    range: AddressRange
    """Addresses for LAN-attached pods, `a-b` inside the LAN, outside DHCP and every pool."""
    lan_cidr: Cidr
    """The LAN, e.g. 192.168.2.0/24."""
    gateway: IPv4
    """The router's address."""
    namespaces: Namespaces = ("default",)
    """Namespaces that get the NetworkAttachmentDefinition (default [default])."""
    network_name: AttachmentName = "lan"
    """Name of the NetworkAttachmentDefinition (default lan)."""
    ipam: LanIpamMode = LanIpamMode.Static
    """static (default) or host-local."""
    multus_version: str = MULTUS_VERSION
    """Multus version (default: the version this package pins)."""


class DnsProxyTunables(Model):
    """Cilium DNS proxy settings that FQDN egress policies depend on."""

    min_ttl: Annotated[Int, between(0, 604800)] = 3600
    """Keep learned name→IP mappings (and the policy they feed) at least this many seconds (default 3600)."""
    max_ips_per_hostname: Annotated[Int, between(1, 10000)] = 50
    """IPs remembered per name (default 50)."""
    reject_response_code: DnsRejectResponse = DnsRejectResponse.Refused
    """Answer to a refused lookup: refused (default) or nameError."""


class FlatNetworkArgs(Model):
    """Args of FlatNetwork: Cilium in native routing on the LAN, and its options."""

    pod_cidr: Cidr
    """The cluster's pod CIDR (routed natively, no encapsulation)."""
    lan_cidr: Cidr
    """The home LAN."""
    api_host: Annotated[str, AfterValidator(_api_host)]
    """The API server address Cilium uses before its own service routing exists (the endpoint/VIP)."""
    api_port: Annotated[Int, between(1, 65535)] = 6443
    """API server port (default 6443)."""
    nodes: tuple[NodeAddress, ...]
    """Every node, control planes first (the order they joined)."""
    service_cidr: Cidr | None = None
    """The service CIDR, for the router routes when ClusterIPs are exposed."""
    auto_direct_node_routes: Flag = True
    """Nodes share one L2 and route pod CIDRs directly (default true)."""
    expose_cluster_ips: Flag = True
    """Make ClusterIPs reachable from the LAN (bpf.lbExternalClusterIP; default true)."""
    bgp: BgpPeering | None = None
    """Peer with the router over BGP."""
    lan_attachment: LanAttachment | None = None
    """Give selected pods a second interface on the LAN."""
    dns_proxy: DnsProxyTunables = DnsProxyTunables()
    """DNS proxy tunables for FQDN policies."""
    chart: CiliumChart = CiliumChart()
    """Where the Cilium chart comes from."""
    node_cidr_mask: Annotated[Int, between(8, 30)] = NODE_CIDR_MASK
    """kube-controller-manager's node CIDR mask size (default 24, kubeadm's)."""
    read_node_pod_cidrs: Flag = True
    """Read each Node's podCIDR for the router routes (default true)."""
    release_name: str = "cilium"
    """Helm release name (default cilium)."""
    namespace: str = "kube-system"
    """Namespace (default kube-system)."""
    skip_await: Flag = False
    """Don't wait for Cilium's pods (default false)."""

    @property
    def operator_replicas(self) -> int:
        # Two operators with anti-affinity; a one-node lab can only schedule one.
        return 2 if len(self.nodes) > 1 else 1


# --- the stack file's form (`homelab:network`) ------------------------------------------------


class _Required:
    """Stands in for a key that `enabled: true` makes required; the field's validator reports it."""

    def __repr__(self) -> str:
        return "<required>"


REQUIRED = _Required()
SHOWN_ASN = f"integer (1–{MAX_ASN})"  # the README names the bounds an optional field hides


def _given(what: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if value is REQUIRED:
            raise problem("missing", f"is required when {what} is enabled")
        return value

    return BeforeValidator(check)


def _required_when_enabled(*keys: str) -> ConfigDict:
    """The editor schema's form of the rule (JSON Schema if/then)."""
    enabled = {"properties": {"enabled": {"const": True}}, "required": ["enabled"]}
    return ConfigDict(json_schema_extra={"if": enabled, "then": {"required": list(keys)}})


def _switched(cls: type[Model], data: Any, required: tuple[str, ...]) -> Any:
    """`enabled: false` (the default): the other settings are ignored (lab/ warns), but an
    unknown key is still refused. `enabled: true`: each of `required` must be there."""
    if not isinstance(data, Mapping):
        return data
    known = {k for name, info in cls.model_fields.items() for k in (name, info.alias)}
    enabled = data.get("enabled", False)
    if enabled is False:
        return {k: v for k, v in data.items() if k == "enabled" or k not in known}
    if enabled is True:
        missing = {
            cls.model_fields[name].alias or name: REQUIRED
            for name in required
            if name not in data and cls.model_fields[name].alias not in data
        }
        return {**data, **missing}
    return data  # not a bool: reported, and the rest is still checked


class BgpSection(Model):
    """Cilium's BGP control plane peering every selected node with the home router."""

    model_config = _required_when_enabled("localAsn", "peerAsn")

    enabled: Flag = False
    """Peer with the router (default false; the other keys are ignored while false)."""
    local_asn: Annotated[Asn | None, _given("BGP"), Shown(SHOWN_ASN)] = None
    """The cluster's ASN (required when enabled)."""
    peer_asn: Annotated[Asn | None, _given("BGP"), Shown(SHOWN_ASN)] = None
    """The router's ASN (required when enabled)."""
    peer_address: Annotated[IPv4 | None, _given("BGP")] = None
    """The router's IPv4 address (default: homelab:lan.gateway)."""
    node_selector: NodeSelector = {}
    """Labels of the nodes that peer (default: every node)."""
    advertise_pod_cidr: Flag = True
    """Announce each node's pod CIDR (default true)."""
    advertise_load_balancer_ips: Flag = True
    """Announce LoadBalancer IPs (default true)."""

    @model_validator(mode="before")
    @classmethod
    def _when_enabled(cls, data: Any, info: ValidationInfo) -> Any:
        gateway = getattr((info.context or {}).get("lab"), "gateway", None)
        if isinstance(data, Mapping) and gateway is not None and not {"peerAddress", "peer_address"} & set(data):
            data = {**data, "peerAddress": str(gateway)}  # the router, unless told otherwise
        return _switched(cls, data, ("local_asn", "peer_asn", "peer_address"))

    def peering(self) -> BgpPeering | None:
        """The component's form, or None when BGP is off."""
        if not self.enabled or self.local_asn is None or self.peer_asn is None or self.peer_address is None:
            return None
        return BgpPeering(
            local_asn=self.local_asn,
            peer_asn=self.peer_asn,
            peer_address=self.peer_address,
            node_selector=self.node_selector,
            advertise_pod_cidr=self.advertise_pod_cidr,
            advertise_load_balancer_ips=self.advertise_load_balancer_ips,
        )


class LanAttachmentSection(Model):
    """A second pod interface on the LAN (Multus + macvlan), for mDNS/SSDP workloads."""

    model_config = _required_when_enabled("interface", "range")

    enabled: Flag = False
    """Attach pods to the LAN (default false; the other keys are ignored while false)."""
    interface: Annotated[Interface | None, _given("the LAN attachment")] = None
    """The nodes' LAN NIC, the same name on every node (required when enabled)."""
    range: Annotated[AddressRange | None, _given("the LAN attachment")] = None
    """Addresses for LAN-attached pods, `a-b` inside the LAN, outside DHCP, the nodes and every pool
    (required when enabled)."""
    namespaces: Namespaces = ("default",)
    """Namespaces that get the NetworkAttachmentDefinition (default [default])."""
    name: AttachmentName = "lan"
    """Name of the NetworkAttachmentDefinition (default lan)."""
    ipam: LanIpamMode = LanIpamMode.Static
    """static (default): each pod names its address; host-local: handed out per node (one-node labs)."""

    @model_validator(mode="before")
    @classmethod
    def _when_enabled(cls, data: Any) -> Any:
        return _switched(cls, data, ("interface", "range"))

    def attachment(self, lan_cidr: str, gateway: str) -> LanAttachment | None:
        """The component's form on this LAN, or None when the attachment is off."""
        if not self.enabled or self.interface is None or self.range is None:
            return None
        return LanAttachment(
            interface=self.interface,
            range=self.range,
            lan_cidr=lan_cidr,
            gateway=gateway,
            namespaces=self.namespaces,
            network_name=self.name,
            ipam=self.ipam,
        )


class FlatNetworkSection(Model):
    """Cilium in native routing on the LAN (`homelab:network`): BGP, LAN attachment, DNS proxy, chart."""

    auto_direct_node_routes: Flag = True
    """Nodes share one L2 and route pod CIDRs directly (default true)."""
    expose_cluster_ips: Flag = True
    """Make ClusterIPs reachable from the LAN (default true)."""
    bgp: BgpSection = BgpSection()
    """Peer with the router over BGP (Cilium's BGP control plane)."""
    lan_attachment: LanAttachmentSection = LanAttachmentSection()
    """Give selected pods a second interface on the LAN."""
    dns_proxy: DnsProxyTunables = DnsProxyTunables()
    """DNS proxy tunables for FQDN egress policies."""
    chart: CiliumChart = CiliumChart()
    """Where the Cilium chart comes from."""
    skip_await: Flag = False
    """Don't wait for Cilium's pods (default false)."""

    @model_validator(mode="before")
    @classmethod
    def _empty_subsections(cls, data: Any) -> Any:
        # `dnsProxy:` with nothing under it in YAML is null: the defaults, as before.
        if isinstance(data, Mapping):
            subsections = {"bgp", "lanAttachment", "lan_attachment", "dnsProxy", "dns_proxy", "chart"}
            return {k: v for k, v in data.items() if not (v is None and k in subsections)}
        return data
