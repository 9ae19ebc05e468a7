"""EgressPolicies' declared inputs: the component's args, and `homelab:egress` in the stack file.

`EgressPolicy` is one entry of the stack's list (`EgressSection`, for the editor schema
and the README) and one policy of `EgressPoliciesArgs` (what the component and the
plugin take). A model validator runs only when every field is valid, so the rules across
a policy's fields (`policy_rules`) and across policies (`duplicate_policies`) can also
run on the raw input (`raw_policy_rules`): lab/egress.py and the plugin do that for an
entry the model refused, and every problem shows at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, RootModel, TypeAdapter, ValidationInfo, model_validator

from components.model import Flag, Int, Model, between, fail, problem
from components.validation import DNS1123_LABEL, DNS1123_SUBDOMAIN
from components.versions import CILIUM_VERSION


class PortProtocol(StrEnum):
    """Transport protocol of an allowed port."""

    Tcp = "TCP"
    """TCP."""
    Udp = "UDP"
    """UDP."""
    Any = "ANY"
    """Any protocol."""


class DnsLookupMode(StrEnum):
    """What the selected pods may look up through Cilium's DNS proxy."""

    All = "all"
    """Any name (they can still connect only to the allowed ones)."""
    Allowed = "allowed"
    """Only the allowed names and patterns."""


PROTOCOLS: tuple[str, ...] = tuple(p.value for p in PortProtocol)
# What the selected pods may *look up* through the DNS proxy:
#   all      any name (they can still only connect to the allowed ones)
#   allowed  only the allowed names/patterns (other lookups are rejected by the proxy)
DnsLookups = DnsLookupMode
DNS_LOOKUPS: tuple[str, ...] = tuple(m.value for m in DnsLookupMode)
DEFAULT_DNS_LOOKUPS = DnsLookupMode.All
# Cilium takes at most this many ports per rule.
MAX_PORTS = 40
# Without the Cilium in use (no context), an entry gets the rules every release has; the
# release gate ('**.' from 1.19) is then EgressPoliciesArgs', which knows cilium_version.
_ANY_CILIUM = "99.0"

PortNumber = Annotated[Int, between(1, 65535)]


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value  # `udp` was always accepted


class Port(Model):
    """A port the selected pods may reach on the allowed names."""

    port: PortNumber
    """Port number."""
    protocol: Annotated[PortProtocol, BeforeValidator(_upper)] = PortProtocol.Tcp
    """TCP (default), UDP or ANY."""


def _port(value: Any) -> Any:
    """The stack's shorthand: a bare number is that port over TCP (its problems under the item's key)."""
    if isinstance(value, Mapping | Port):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise problem("port", f"must be a port number from 1 to 65535, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise problem("port", f"must be a port number from 1 to 65535, got {value!r}")
    if not 1 <= value <= 65535:
        raise problem("port", f"must be between 1 and 65535, got {int(value)}")
    return Port(int(value))


PortEntry = Annotated[Port, BeforeValidator(_port, json_schema_input_type=PortNumber | Port)]


def _policy_name(name: str) -> str:
    if not DNS1123_SUBDOMAIN.match(name):
        raise problem("name", f"{name!r} must be a DNS-1123 subdomain (lowercase, digits, '-', '.')")
    return name


def _namespace(name: str) -> str:
    if not DNS1123_LABEL.match(name):
        raise problem("namespace", f"{name!r} must be a namespace name (DNS-1123 label)")
    return name


def _selector(labels: dict[str, Any]) -> dict[str, Any]:
    from components.egress.check import label_key_problem, label_value_problem  # check.py imports this module

    fail(
        [
            ((key,), why)
            for key, value in labels.items()
            if (why := label_key_problem(key) or label_value_problem(value))
        ]
    )
    return labels


def _allow_entry(entry: Any, info: ValidationInfo) -> str:
    """A toFQDNs name or pattern, normalised; `*` alone and the Cilium release are policy_rules'."""
    from components.egress.patterns import fqdn_problem, normalise

    version = (info.context or {}).get("cilium_version") or _ANY_CILIUM
    why = fqdn_problem(entry, allow_all=True, cilium_version=version)
    if why:
        raise problem("fqdn", why)
    return normalise(entry)


AllowEntry = Annotated[str, AfterValidator(_allow_entry)]


def _names_given(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise problem("too_short", "lists no names: say what the pods may reach")
    return value


_names_given.missing_message = "the names the pods may reach"  # type: ignore[attr-defined]


_ALLOW: TypeAdapter[str] = TypeAdapter(AllowEntry)
_PORT: TypeAdapter[Port] = TypeAdapter(PortEntry)
Problem = tuple[tuple[int | str, ...], str]


def policy_rules(
    *,
    namespace: str | None,
    clusterwide: bool,
    selector: Mapping[str, Any],
    allow: Sequence[str | None],
    allow_all: bool,
    ports: Sequence[tuple[int, str] | None],
) -> list[Problem]:
    """Rules across one policy's fields: (location in the policy, message) for each problem.

    `allow` and `ports` hold None for an entry that is bad by itself (reported already).
    """
    from components.egress.check import is_namespace_label, label_key_problem, label_value_problem

    out: list[Problem] = []
    if namespace is None and not clusterwide:
        out.append((("namespace",), "is required (or set clusterwide: true)"))
    if clusterwide and namespace is None and not selector:
        out.append(
            (
                ("selector",),
                "a clusterwide policy needs a selector or a namespace: without either it would cut egress "
                "for every pod in the cluster, kube-system included",
            )
        )
    for key, value in selector.items():
        bad = label_key_problem(str(key)) or label_value_problem(value)
        if not bad and not clusterwide and is_namespace_label(str(key)):
            out.append((("selector", key), "the pod's namespace comes from `namespace`; don't select on it here"))
    seen: set[str] = set()
    for i, entry in enumerate(allow):
        if entry is None:
            continue
        if entry == "*" and not allow_all:
            out.append(
                (
                    ("allow", i),
                    "a bare '*' allows every name the pod resolves; set allowAll: true if that is really meant",
                )
            )
        elif entry in seen:
            out.append((("allow", i), f"{entry!r} is listed twice"))
        seen.add(entry)
    taken: set[tuple[int, str]] = set()
    for i, port in enumerate(ports):
        if port is not None and port in taken:
            out.append((("ports", i), f"{port[0]}/{port[1]} is listed twice"))
        if port is not None:
            taken.add(port)
    if len(ports) > MAX_PORTS:
        out.append((("ports",), f"Cilium takes at most {MAX_PORTS} ports per rule, got {len(ports)}"))
    return out


def _valid(adapter: TypeAdapter[Any], value: Any, context: Mapping[str, Any]) -> Any:
    try:
        return adapter.validate_python(value, context=dict(context))
    except ValueError:
        return None  # the model reports it


def raw_policy_rules(raw: Mapping[str, Any], context: Mapping[str, Any]) -> list[Problem]:
    """policy_rules on a policy as given (stack or plugin spelling), read leniently: for an
    entry the model refused, whose cross-field rules it therefore never ran."""

    def get(name: str) -> Any:
        alias = EgressPolicy.model_fields[name].alias or name
        return raw.get(alias, raw.get(name))

    allow, ports, selector = get("allow"), get("ports"), get("selector")
    valid_ports = [_valid(_PORT, p, context) for p in (ports if isinstance(ports, list) else [])]
    return policy_rules(
        namespace=get("namespace"),
        clusterwide=get("clusterwide") is True,
        selector=selector if isinstance(selector, Mapping) else {},
        allow=[_valid(_ALLOW, a, context) for a in (allow if isinstance(allow, list) else [])],
        allow_all=get("allow_all") is True,
        ports=[(p.port, p.protocol.value) if isinstance(p, Port) else None for p in valid_ports],
    )


def _identity(raw: Any) -> tuple[str, str] | None:
    """What must be unique, as given: the kind's scope (namespace or the cluster) and the name."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        return None
    if raw.get("clusterwide") is True:
        return ("<cluster>", raw["name"])
    namespace = raw.get("namespace")
    return (namespace, raw["name"]) if isinstance(namespace, str) else None


def duplicate_policies(policies: Sequence[Any], where: str) -> list[tuple[int, str]]:
    """(index, message) for each policy whose name its scope already has; read leniently
    (raw mappings, checked even when an entry has other errors)."""
    out: list[tuple[int, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(policies):
        ident = _identity(raw)
        if ident is None:
            continue
        if ident in seen:
            out.append((i, f"{ident[1]!r} is already defined at {where}[{seen[ident]}]"))
        else:
            seen[ident] = i
    return out


def key_of(prefix: str, loc: tuple[int | str, ...]) -> str:
    """A location from policy_rules as a key below `prefix`: `[0].allow[1]`-style."""
    field, *rest = loc
    return f"{prefix}.{field}" + "".join(f"[{step}]" for step in rest)


class EgressPolicy(Model):
    """Pods matching selector (in namespace) may reach only the names in allow (plus DNS).

    `allow` entries are exact names (`api.github.com`) or Cilium patterns (`*.k8s.intra`;
    `*` matches within one label). `ports` empty means any port and protocol.
    `clusterwide` makes a CiliumClusterwideNetworkPolicy; its `namespace` is optional
    and narrows the selector to that namespace.
    """

    name: Annotated[str, AfterValidator(_policy_name)]
    """Policy name (DNS-1123 subdomain)."""
    allow: Annotated[tuple[AllowEntry, ...], AfterValidator(_names_given)]
    """Exact names (api.github.com) or Cilium patterns (*.k8s.intra; `*` stays within one label)."""
    namespace: Annotated[str, AfterValidator(_namespace)] | None = None
    """The pods' namespace (required unless clusterwide)."""
    selector: Annotated[dict[str, str], AfterValidator(_selector)] = {}
    """Pod labels (default: every pod in the namespace)."""
    ports: tuple[PortEntry, ...] = ()
    """Allowed ports (default: any port and protocol). In a stack file a bare number is that port over TCP."""
    clusterwide: Flag = False
    """A CiliumClusterwideNetworkPolicy instead of a namespaced one."""
    dns: DnsLookupMode = DEFAULT_DNS_LOOKUPS
    """all (default): the pods may look up any name; allowed: only the allowed names and patterns."""
    allow_all: Flag = False
    """Permit a bare `*` in allow (every name the pods resolved)."""
    description: str | None = None
    """Shown in the policy's description field."""

    @model_validator(mode="after")
    def _across_fields(self) -> EgressPolicy:
        fail(
            policy_rules(
                namespace=self.namespace,
                clusterwide=self.clusterwide,
                selector=self.selector,
                allow=self.allow,
                allow_all=self.allow_all,
                ports=[(p.port, p.protocol.value) for p in self.ports],
            )
        )
        return self


class EgressSection(RootModel[tuple[EgressPolicy, ...]]):
    """Cilium FQDN egress allow-lists: which pods may reach which DNS names (one policy per entry)."""


class EgressPoliciesArgs(Model):
    """Args of EgressPolicies: one Cilium policy per entry."""

    policies: tuple[EgressPolicy, ...]
    """The policies."""
    cilium_version: str = CILIUM_VERSION
    """The Cilium that enforces them (pattern rules differ between releases; default: the pinned one)."""
    dns_namespace: str = "kube-system"
    """Where the cluster DNS runs (default kube-system)."""
    dns_labels: dict[str, str] = {"k8s-app": "kube-dns"}
    """Labels of the cluster DNS pods (default k8s-app: kube-dns)."""

    @model_validator(mode="after")
    def _across_policies(self) -> EgressPoliciesArgs:
        from components.egress.patterns import fqdn_problem

        found: list[Problem] = []
        for i, policy in enumerate(self.policies):
            for j, entry in enumerate(policy.allow):
                why = fqdn_problem(entry, allow_all=True, cilium_version=self.cilium_version)
                if why:  # the release gate ('**.' from 1.19)
                    found.append((("policies", i, "allow", j), why))
        given = [p.model_dump(include={"name", "namespace", "clusterwide"}) for p in self.policies]
        found += [(("policies", i, "name"), why) for i, why in duplicate_policies(given, "policies")]
        fail(found)
        return self
