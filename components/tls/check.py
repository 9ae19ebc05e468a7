"""Rules for certificates and their Secrets, as pure checks (each returns a message or None)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from components.dns.names import dns_name_problem, looks_like_ip
from components.tls.model import USAGES, TlsSecretsArgs, TlsSecretSpec
from components.validation import DNS1123_LABEL, DNS1123_SUBDOMAIN


def dns_san_problem(name: object) -> str | None:
    """A DNS SAN: a lowercase DNS name, `*` only as the whole leftmost label.

    An IP written here is refused rather than moved: clients check an IP they connect
    to against IP SANs only, so where it is listed changes what the certificate means.
    """
    if not isinstance(name, str) or not name:
        return f"must be a DNS name, got {name!r}"
    if looks_like_ip(name):
        return f"{name!r} is an IP address: list it under ipAddresses (clients match IPs against IP SANs only)"
    problem = dns_name_problem(name, wildcard=True)
    if problem:
        return f"is neither a DNS name nor an IP address: {problem}"
    return None


def ip_san_problem(value: object) -> str | None:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return f"{value!r} is not an IP address"
    return None


def secret_name_problem(name: object) -> str | None:
    if not isinstance(name, str) or not DNS1123_SUBDOMAIN.match(name):
        return f"{name!r} is not a valid Secret name (DNS-1123 subdomain: lowercase, digits, '-', '.')"
    return None


def namespace_problem(name: object) -> str | None:
    if not isinstance(name, str) or not DNS1123_LABEL.match(name):
        return f"{name!r} is not a valid namespace name (DNS-1123 label)"
    return None


def validity_problem(validity: int, early: int) -> str | None:
    if validity < 1:
        return f"validity must be at least 1 hour, got {validity}"
    if not 0 <= early < validity:
        return f"early renewal ({early} h) must be at least 0 and shorter than the validity ({validity} h)"
    return None


def secret_problems(spec: TlsSecretSpec) -> list[str]:
    out: list[str] = []
    for problem in (secret_name_problem(spec.name), validity_problem(spec.validity_hours, spec.early_renewal_hours)):
        if problem:
            out.append(problem)
    if not spec.namespaces:
        out.append("namespaces: list at least one namespace")
    out.extend(f"namespaces: {p}" for p in filter(None, map(namespace_problem, spec.namespaces)))
    if len(set(spec.namespaces)) != len(spec.namespaces):
        out.append("namespaces: a namespace is listed twice")
    out.extend(f"dnsNames: {p}" for p in filter(None, map(dns_san_problem, spec.dns_names)))
    out.extend(f"ipAddresses: {p}" for p in filter(None, map(ip_san_problem, spec.ip_addresses)))
    if not spec.usages:
        out.append("usages: list server, client or both")
    for usage in spec.usages:
        if usage not in USAGES:
            out.append(f"usages: {usage!r} is not one of {', '.join(USAGES)}")
    if "server" in spec.usages and not (spec.dns_names or spec.ip_addresses):
        out.append("a server certificate needs at least one dnsNames or ipAddresses entry")
    return out


def secret_clashes(
    secrets: Sequence[tuple[str | None, Sequence[str]]], issuer: tuple[str, str] | None, *, where: str
) -> list[tuple[int, str]]:
    """(index, message) for each secret whose name an earlier one has, or that would write a
    Secret already written (by an earlier one, or the issuer's: `issuer` = (namespace, name)).

    `where` prefixes the places named in messages (`homelab:tls.` in a stack, "" in the plugin).
    """
    out: list[tuple[int, str]] = []
    names: dict[str, str] = {}
    places: dict[tuple[str, str], str] = {}
    if issuer is not None:
        places[issuer] = f"{where}certManager"
    for i, (name, namespaces) in enumerate(secrets):
        if name is None:
            continue
        if name in names:
            out.append(
                (
                    i,
                    f"{name!r} is already used by {names[name]}: one entry can write the same certificate "
                    "to several namespaces (namespaces: [...]); a different certificate needs another name",
                )
            )
            continue
        names[name] = f"{where}secrets[{i}]"
        clash = next(((ns, places[(ns, name)]) for ns in namespaces if (ns, name) in places), None)
        if clash:
            out.append((i, f"Secret {clash[0]}/{name} is already written by {clash[1]}"))
            continue
        places.update({(ns, name): f"{where}secrets[{i}]" for ns in namespaces})
    return out


def args_problems(args: TlsSecretsArgs) -> list[str]:
    out: list[str] = []
    problem = validity_problem(args.ca.validity_hours, args.ca.early_renewal_hours)
    if problem:
        out.append(f"ca: {problem}")
    names: set[str] = set()
    places: set[tuple[str, str]] = set()
    if args.cert_manager.enabled:
        places.add((args.cert_manager.namespace, args.cert_manager.secret_name))
    for spec in args.secrets:
        out.extend(f"secret {spec.name!r}: {p}" for p in secret_problems(spec))
        if spec.name in names:
            out.append(f"secret {spec.name!r}: the name is used twice (one entry can list several namespaces)")
        names.add(spec.name)
        for ns in spec.namespaces:
            if (ns, spec.name) in places:
                out.append(f"secret {spec.name!r}: Secret {ns}/{spec.name} would be written twice")
            places.add((ns, spec.name))
    cm = args.cert_manager
    if cm.enabled:
        for what, value, check in (
            ("namespace", cm.namespace, namespace_problem),
            ("secret name", cm.secret_name, secret_name_problem),
            ("issuer name", cm.issuer_name, secret_name_problem),
        ):
            problem = check(value)
            if problem:
                out.append(f"cert-manager {what}: {problem}")
    return out
