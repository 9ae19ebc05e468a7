"""TlsSecrets' declared inputs: the component's args, and `homelab:tls` in the stack file.

`TlsSecretsArgs` is what TlsSecrets takes (and what the plugin's inputs derive from);
`TlsSection` is the stack file's form, whose secrets may name one `namespace` instead
of `namespaces`. A model validator runs only when every field is valid, so the rules
across a secret's fields (`secret_rules`) and across secrets (check.secret_clashes) can
also run on the raw input (`raw_secret_rules`): lab/tls.py and the plugin do that for an
entry the model refused, and every problem shows at once. An early renewal is checked
against the validity declared before it (`info.data`), so that pair needs no such help.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    TypeAdapter,
    ValidationInfo,
    model_validator,
)

from components.model import Flag, Int, Model, PluginAs, at_least, between, fail, problem


class Usage(StrEnum):
    """What a certificate is for."""

    Server = "server"
    """A TLS server (needs a DNS or IP SAN)."""
    Client = "client"
    """A TLS client (mTLS); both together for a peer."""


USAGES: tuple[str, ...] = tuple(u.value for u in Usage)
# X.509 key usages per role, as pulumi-tls names them. Both roles together give an
# mTLS certificate. key_encipherment matters only for RSA keys but costs nothing.
ALLOWED_USES: dict[str, tuple[str, ...]] = {
    "server": ("digital_signature", "key_encipherment", "server_auth"),
    "client": ("digital_signature", "key_encipherment", "client_auth"),
}
CA_USES: tuple[str, ...] = ("cert_signing", "crl_signing", "digital_signature")
KEY_ALGORITHM = "ECDSA"
ECDSA_CURVE = "P256"
MAX_HOURS = 24 * 365 * 100

Hours = Annotated[Int, between(1, MAX_HOURS)]


Rotation = Annotated[Int, at_least(0)]

Problem = tuple[tuple[int | str, ...], str]


def _checked(check_name: str) -> Any:
    """An AfterValidator running components.tls.check's `check_name` (it imports this module)."""

    def run(value: Any) -> Any:
        from components.tls import check

        why = getattr(check, check_name)(value)
        if why:
            raise problem(check_name, why)
        return value

    return AfterValidator(run)


def _common_name(value: str) -> str:
    if not 1 <= len(value) <= 64:
        raise problem("cn", f"must be 1 to 64 characters (X.509), got {len(value)}")
    return value


def _ip_address(value: str) -> str:
    from components.dns.names import looks_like_ip
    from components.tls.check import ip_san_problem

    why = ip_san_problem(value)
    if why:
        hint = "" if looks_like_ip(value) else " (DNS names go under dnsNames)"
        raise problem("ip", why + hint)
    return value


def _usage(value: Any) -> Any:
    if value not in USAGES:
        raise problem("usage", f"{value!r} is not a usage: use {', '.join(USAGES)} (both for mTLS)")
    return value


def _usages(value: tuple[Usage, ...]) -> tuple[Usage, ...]:
    if not value:
        raise problem("usages", f"list one or both of {', '.join(USAGES)}")
    return tuple(dict.fromkeys(value))  # once each


def _early_renewal(early: int, info: ValidationInfo) -> int:
    """Shorter than the validity (when that is valid itself: it is declared first)."""
    from components.tls.check import validity_problem

    validity = info.data.get("validity_hours")
    why = validity_problem(validity, early) if isinstance(validity, int) else None
    if why:
        raise problem("validity", why)
    return early


EarlyHours = Annotated[Int, between(0, MAX_HOURS), AfterValidator(_early_renewal)]
CommonName = Annotated[str, AfterValidator(_common_name)]
SecretName = Annotated[str, _checked("secret_name_problem")]
NamespaceName = Annotated[str, _checked("namespace_problem")]
DnsSan = Annotated[str, _checked("dns_san_problem")]
IpSan = Annotated[str, AfterValidator(_ip_address)]
Usages = Annotated[tuple[Annotated[Usage, BeforeValidator(_usage)], ...], AfterValidator(_usages), PluginAs(list[str])]


_NAMESPACE: TypeAdapter[str] = TypeAdapter(NamespaceName)
_DNS: TypeAdapter[str] = TypeAdapter(DnsSan)
_IP: TypeAdapter[str] = TypeAdapter(IpSan)


def secret_rules(
    *,
    namespace: bool,
    namespaces: Sequence[str | None] | None,
    dns_names: Sequence[str | None],
    ip_addresses: Sequence[str | None],
    usages: Sequence[str | None],
) -> list[Problem]:
    """Rules across one secret's fields: (location in the secret, message) for each problem.

    `namespace`: the stack's single-namespace form is given; `namespaces` None: not given.
    The sequences hold None for an entry that is bad by itself (reported already).
    """
    out: list[Problem] = []
    if namespace and namespaces is not None:
        out.append((("namespace",), "give either namespace or namespaces, not both"))
    elif not namespace and not namespaces:
        out.append((("namespaces",), "list at least one namespace to write the Secret to"))
    for field, values, what in (
        ("namespaces", namespaces or (), "namespace "),
        ("dnsNames", dns_names, ""),
        ("ipAddresses", ip_addresses, ""),
    ):
        seen: set[str] = set()
        for i, value in enumerate(values):
            if value is not None and value in seen:
                out.append(((field, i), f"{what}{value!r} is listed twice"))
            if value is not None:
                seen.add(value)
    if "server" in usages and not dns_names and not ip_addresses:
        out.append((("dnsNames",), "a server certificate needs at least one dnsNames or ipAddresses entry"))
    return out


def _valid(adapter: TypeAdapter[str], values: Any) -> list[str | None]:
    out: list[str | None] = []
    for value in values if isinstance(values, list) else []:
        try:
            out.append(adapter.validate_python(value))
        except ValueError:
            out.append(None)  # the model reports it
    return out


def raw_secret_rules(raw: Mapping[str, Any], *, stack: bool = True) -> list[Problem]:
    """secret_rules on a secret as given (stack or plugin spelling), read leniently: for an
    entry the model refused, whose rules across fields it therefore never ran.

    Outside a stack (`stack=False`, TlsSecretSpec) namespaces is required: the model
    says so when it is missing.
    """

    def get(name: str, default: Any = None) -> Any:
        alias = TlsSecretEntry.model_fields[name].alias or name
        return raw.get(alias, raw.get(name, default))

    usages = get("usages", ["server"])
    dns_names, ip_addresses = get("dns_names"), get("ip_addresses")
    found = secret_rules(
        namespace="namespace" in raw,
        namespaces=_valid(_NAMESPACE, raw["namespaces"]) if "namespaces" in raw else None,
        dns_names=_valid(_DNS, dns_names),
        ip_addresses=_valid(_IP, ip_addresses),
        usages=usages if isinstance(usages, list) else [],
    )
    # A server certificate needs a SAN: one written, even a bad one (reported already), counts.
    sans = [
        *(dns_names if isinstance(dns_names, list) else []),
        *(ip_addresses if isinstance(ip_addresses, list) else []),
    ]
    missing = not stack and "namespaces" not in raw
    return [
        (loc, message)
        for loc, message in found
        if not (loc == ("dnsNames",) and sans) and not (loc == ("namespaces",) and missing)
    ]


def key_of(prefix: str, loc: tuple[int | str, ...]) -> str:
    """A location from secret_rules as a key below `prefix`: `.dnsNames[1]`-style."""
    field, *rest = loc
    return f"{prefix}.{field}" + "".join(f"[{step}]" for step in rest)


def issuer_place(raw: Any) -> tuple[str, str] | None:
    """Where the issuer's Secret goes when it is enabled, as given (defaults filled)."""
    if not isinstance(raw, Mapping) or raw.get("enabled") is not True:
        return None
    d = CertManagerIssuer()
    return str(raw.get("namespace", d.namespace)), str(raw.get("secretName", raw.get("secret_name", d.secret_name)))


def secret_identity(raw: Any) -> tuple[str | None, list[str]]:
    """The Secret name and namespaces an entry asks for, as given (for clash checks)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        return None, []
    spaces = raw.get("namespaces", [raw.get("namespace")])
    return raw["name"], [ns for ns in (spaces if isinstance(spaces, list) else []) if isinstance(ns, str)]


class CaSpec(Model):
    """The private CA (ECDSA P-256, self-signed): subject, validity and a rotation counter."""

    common_name: CommonName = "homelab CA"
    """CA common name (default homelab CA)."""
    organization: str | None = None
    """CA organization."""
    validity_hours: Hours = 87600
    """Validity in hours (default 87600, ten years)."""
    early_renewal_hours: EarlyHours = 8760
    """Re-issue on an update this close to expiry (default 8760); every certificate is then re-signed."""
    rotation: Rotation = 0
    """Bump to replace the CA key and certificate, and so every certificate it signed."""


class TlsSecretSpec(Model):
    """One key and certificate, written as a kubernetes.io/tls Secret into each namespace."""

    name: SecretName
    """Secret name."""
    namespaces: tuple[NamespaceName, ...]
    """Namespaces that get the Secret."""
    dns_names: tuple[DnsSan, ...] = ()
    """DNS SANs (`*` only as the whole leftmost label)."""
    ip_addresses: tuple[IpSan, ...] = ()
    """IP SANs."""
    usages: Usages = (Usage.Server,)
    """server and/or client (default [server])."""
    common_name: CommonName | None = None
    """Subject CN (default: the first DNS name, else the secret's name)."""
    validity_hours: Hours = 8760
    """Validity in hours (default 8760, a year)."""
    early_renewal_hours: EarlyHours = 720
    """Re-issue on an update this close to expiry (default 720)."""
    rotation: Rotation = 0
    """Bump to replace this secret's key and certificate."""

    @model_validator(mode="after")
    def _across_fields(self) -> TlsSecretSpec:
        fail(self._rules())
        return self

    def _rules(self) -> list[Problem]:
        return secret_rules(
            namespace=False,
            namespaces=self.namespaces,
            dns_names=self.dns_names,
            ip_addresses=self.ip_addresses,
            usages=self.usages,
        )

    @property
    def subject_name(self) -> str | None:
        """CN: given, else the first DNS name, else the secret's name (X.509 caps CN at 64)."""
        for candidate in (self.common_name, *self.dns_names, self.name):
            if candidate and len(candidate) <= 64:
                return candidate
        return None


class TlsSecretEntry(TlsSecretSpec):
    """One key and certificate, written as a kubernetes.io/tls Secret into each namespace."""

    namespaces: tuple[NamespaceName, ...] = ()
    """Namespaces that get the Secret (or `namespace` for one)."""
    namespace: NamespaceName | None = None
    """The one namespace that gets the Secret (instead of namespaces)."""

    def _rules(self) -> list[Problem]:
        return secret_rules(
            namespace=self.namespace is not None,
            namespaces=self.namespaces if "namespaces" in self.model_fields_set else None,
            dns_names=self.dns_names,
            ip_addresses=self.ip_addresses,
            usages=self.usages,
        )

    def spec(self) -> TlsSecretSpec:
        """The args' form: `namespace` folded into namespaces."""
        fields = {name: getattr(self, name) for name in TlsSecretSpec.model_fields}
        if self.namespace is not None:
            fields["namespaces"] = (self.namespace,)
        return TlsSecretSpec(**fields)


class CertManagerIssuer(Model):
    """A cert-manager CA ClusterIssuer that signs with the same CA (cert-manager must be installed)."""

    enabled: Flag = False
    """Create the issuer (default false)."""
    namespace: NamespaceName = "cert-manager"
    """cert-manager's cluster resource namespace, where a ClusterIssuer finds its Secret (default cert-manager)."""
    issuer_name: SecretName = "homelab-ca"
    """ClusterIssuer name (default homelab-ca)."""
    secret_name: SecretName = "homelab-ca"
    """Name of the Secret holding the CA (default homelab-ca)."""


class TlsSecretsArgs(Model):
    """Args of TlsSecrets: the CA, the certificates and an optional cert-manager issuer."""

    ca: CaSpec = CaSpec()
    """The private CA."""
    secrets: tuple[TlsSecretSpec, ...] = ()
    """The TLS Secrets to issue."""
    cert_manager: CertManagerIssuer = CertManagerIssuer()
    """Optional cert-manager ClusterIssuer."""

    @model_validator(mode="after")
    def _across_secrets(self) -> TlsSecretsArgs:
        from components.tls.check import secret_clashes

        cm = self.cert_manager
        found = secret_clashes(
            [(s.name, s.namespaces) for s in self.secrets],
            (cm.namespace, cm.secret_name) if cm.enabled else None,
            where="",
        )
        fail([(("secrets", i, "name"), why) for i, why in found])
        return self


class TlsSection(Model):
    """A private CA and the kubernetes.io/tls Secrets it signs, optionally a cert-manager issuer."""

    ca: CaSpec = CaSpec()
    """The private CA."""
    secrets: tuple[TlsSecretEntry, ...] = ()
    """The certificates, each written as a Secret into its namespaces."""
    cert_manager: CertManagerIssuer = CertManagerIssuer()
    """Optional cert-manager ClusterIssuer signing with the same CA."""
