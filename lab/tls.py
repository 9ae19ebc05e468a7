"""`homelab:tls` → TlsSecretsArgs: the private CA and the certificates written as Secrets.

homelab:tls:
  ca: {commonName: homelab CA, validityHours: 87600}
  secrets:
    - name: web
      namespaces: [default]            # or `namespace: default`
      dnsNames: [web.k8s.intra, "*.apps.k8s.intra"]
      ipAddresses: [192.168.2.240]
      usages: [server]                 # server, client, or both (mTLS)
      validityHours: 8760
      earlyRenewalHours: 720
      rotation: 0                      # bump to replace the key and certificate
  certManager: {enabled: false, namespace: cert-manager, issuerName: homelab-ca}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.dns.names import looks_like_ip
from components.tls.check import (
    dns_san_problem,
    ip_san_problem,
    namespace_problem,
    secret_name_problem,
    validity_problem,
)
from components.tls.model import USAGES, CaSpec, CertManagerIssuer, TlsSecretsArgs, TlsSecretSpec
from components.validation import Problems
from lab.context import LabContext, Section

KEY = "homelab:tls"
SECRET_FIELDS = {
    "name",
    "namespace",
    "namespaces",
    "dnsNames",
    "ipAddresses",
    "usages",
    "commonName",
    "validityHours",
    "earlyRenewalHours",
    "rotation",
}
MAX_HOURS = 24 * 365 * 100


def _validity(sec: Section, default_validity: int, default_early: int) -> tuple[int, int]:
    validity = sec.int("validityHours", default_validity, lo=1, hi=MAX_HOURS) or default_validity
    early = sec.int("earlyRenewalHours", default_early, lo=0, hi=MAX_HOURS)
    early = default_early if early is None else early
    problem = validity_problem(validity, early)
    if problem:
        sec.problems.error(sec.sub("earlyRenewalHours"), problem)
    return validity, early


def _common_name(sec: Section) -> str | None:
    cn = sec.str("commonName")
    if cn is not None and not 1 <= len(cn) <= 64:
        sec.problems.error(sec.sub("commonName"), f"must be 1 to 64 characters (X.509), got {len(cn)}")
        return None
    return cn


def _ca(raw: Any, problems: Problems) -> CaSpec:
    sec = Section(raw, f"{KEY}.ca", problems)
    sec.unknown({"commonName", "organization", "validityHours", "earlyRenewalHours", "rotation"})
    defaults = CaSpec()
    validity, early = _validity(sec, defaults.validity_hours, defaults.early_renewal_hours)
    return CaSpec(
        common_name=_common_name(sec) or defaults.common_name,
        organization=sec.str("organization"),
        validity_hours=validity,
        early_renewal_hours=early,
        rotation=sec.int("rotation", 0, lo=0) or 0,
    )


def _strings(sec: Section, name: str) -> list[tuple[str, Any]]:
    return [(f"{sec.sub(name)}[{i}]", v) for i, v in enumerate(sec.list(name))]


def _secret(raw: Any, key: str, ca: CaSpec, problems: Problems) -> TlsSecretSpec | None:
    if not isinstance(raw, Mapping):
        problems.error(key, f"must be a mapping (name, namespaces, dnsNames...), got {type(raw).__name__}")
        return None
    before = len(problems.errors)
    sec = Section(raw, key, problems)
    sec.unknown(SECRET_FIELDS)
    defaults = TlsSecretSpec(name="", namespaces=())

    name = sec.str("name", required=True)
    name_problem = secret_name_problem(name) if name is not None else None
    if name_problem:
        problems.error(sec.sub("name"), name_problem)

    if "namespace" in sec.raw and "namespaces" in sec.raw:
        problems.error(sec.sub("namespace"), "give either namespace or namespaces, not both")
    if "namespace" in sec.raw:
        ns_items = [(sec.sub("namespace"), sec.raw["namespace"])]
    else:
        ns_items = _strings(sec, "namespaces")
        if not ns_items:
            problems.error(sec.sub("namespaces"), "list at least one namespace to write the Secret to")
    namespaces: list[str] = []
    for nkey, ns in ns_items:
        problem = namespace_problem(ns)
        if problem:
            problems.error(nkey, problem)
        elif ns in namespaces:
            problems.error(nkey, f"namespace {ns!r} is listed twice")
        else:
            namespaces.append(ns)

    dns_names: list[str] = []
    for dkey, value in _strings(sec, "dnsNames"):
        problem = dns_san_problem(value)
        if problem:
            problems.error(dkey, problem)
        elif value in dns_names:
            problems.error(dkey, f"{value!r} is listed twice")
        else:
            dns_names.append(value)

    ips: list[str] = []
    for ikey, value in _strings(sec, "ipAddresses"):
        problem = ip_san_problem(value)
        if problem:
            hint = " (DNS names go under dnsNames)" if isinstance(value, str) and not looks_like_ip(value) else ""
            problems.error(ikey, problem + hint)
        elif str(value) in ips:
            problems.error(ikey, f"{value!r} is listed twice")
        else:
            ips.append(str(value))

    usages: list[str] = []
    usage_items = _strings(sec, "usages") if "usages" in sec.raw else [(sec.sub("usages"), "server")]
    if not usage_items:
        problems.error(sec.sub("usages"), f"list one or both of {', '.join(USAGES)}")
    for ukey, usage in usage_items:
        if usage not in USAGES:
            problems.error(ukey, f"{usage!r} is not a usage: use {', '.join(USAGES)} (both for mTLS)")
        elif usage not in usages:
            usages.append(usage)
    if "server" in usages and not sec.list("dnsNames") and not sec.list("ipAddresses"):
        problems.error(sec.sub("dnsNames"), "a server certificate needs at least one dnsNames or ipAddresses entry")

    validity, early = _validity(sec, defaults.validity_hours, defaults.early_renewal_hours)
    if validity > ca.validity_hours:
        problems.warn(
            sec.sub("validityHours"),
            f"{validity} h outlives the CA ({ca.validity_hours} h): clients stop trusting it when the CA expires",
        )
    common_name = _common_name(sec)
    rotation = sec.int("rotation", 0, lo=0) or 0

    if len(problems.errors) > before or name is None:
        return None
    return TlsSecretSpec(
        name=name,
        namespaces=tuple(namespaces),
        dns_names=tuple(dns_names),
        ip_addresses=tuple(ips),
        usages=tuple(usages),
        common_name=common_name,
        validity_hours=validity,
        early_renewal_hours=early,
        rotation=rotation,
    )


def _cert_manager(raw: Any, problems: Problems) -> CertManagerIssuer:
    sec = Section(raw, f"{KEY}.certManager", problems)
    sec.unknown({"enabled", "namespace", "issuerName", "secretName"})
    d = CertManagerIssuer()
    out = CertManagerIssuer(
        enabled=sec.bool("enabled", d.enabled),
        namespace=sec.str("namespace", d.namespace) or d.namespace,
        issuer_name=sec.str("issuerName", d.issuer_name) or d.issuer_name,
        secret_name=sec.str("secretName", d.secret_name) or d.secret_name,
    )
    for field, value, check in (
        ("namespace", out.namespace, namespace_problem),
        ("issuerName", out.issuer_name, secret_name_problem),
        ("secretName", out.secret_name, secret_name_problem),
    ):
        problem = check(value)
        if problem:
            problems.error(sec.sub(field), problem)
    return out


def _identity(raw: Any) -> tuple[str | None, list[str]]:
    """The Secret name and namespaces an entry asks for, as written (for clash checks)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        return None, []
    spaces = raw.get("namespaces", [raw.get("namespace")])
    return raw["name"], [ns for ns in (spaces if isinstance(spaces, list) else []) if isinstance(ns, str)]


def parse_tls(raw: Any, ctx: LabContext, problems: Problems) -> TlsSecretsArgs | None:
    """None when the section is absent or has errors (reported to `problems`)."""
    del ctx  # certificates don't depend on the LAN facts
    if raw is None:
        return None
    before = len(problems.errors)
    sec = Section(raw, KEY, problems)
    sec.unknown({"ca", "secrets", "certManager"})
    ca = _ca(sec.raw.get("ca"), problems)
    cert_manager = _cert_manager(sec.raw.get("certManager"), problems)

    secrets: list[TlsSecretSpec] = []
    names: dict[str, str] = {}
    places: dict[tuple[str, str], str] = {}
    if cert_manager.enabled:
        places[(cert_manager.namespace, cert_manager.secret_name)] = f"{KEY}.certManager"
    for i, sraw in enumerate(sec.list("secrets")):
        key = f"{sec.sub('secrets')}[{i}]"
        spec = _secret(sraw, key, ca, problems)
        # Clashes are checked on the raw name and namespaces, so an entry with other
        # errors still reports them.
        name, namespaces = _identity(sraw)
        if name is None:
            continue
        if name in names:
            problems.error(
                f"{key}.name",
                f"{name!r} is already used by {names[name]}: one entry can write the same certificate "
                "to several namespaces (namespaces: [...]); a different certificate needs another name",
            )
            continue
        names[name] = key
        clash = next(((ns, places[(ns, name)]) for ns in namespaces if (ns, name) in places), None)
        if clash:
            problems.error(f"{key}.name", f"Secret {clash[0]}/{name} is already written by {clash[1]}")
            continue
        places.update({(ns, name): key for ns in namespaces})
        if spec is not None:
            secrets.append(spec)

    if len(problems.errors) > before:
        return None
    return TlsSecretsArgs(ca=ca, secrets=tuple(secrets), cert_manager=cert_manager)
