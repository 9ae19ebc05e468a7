"""`homelab:packages` and `homelab:cluster.{imageRepository,registries}`: where hosts get software.

A user with internet keeps the defaults (pkgs.k8s.io, registry.k8s.io); a mirrored or
air-gapped lab points both at its own servers. The values are checked by the models
(components/cluster/model.py); here: files read from this machine, one key source at
most, registry hosts listed once, and the warnings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic_core import PydanticCustomError

from components.cluster.model import PackageSource, PackagesSection, Registry, RegistryHost, kubernetes_version
from components.cluster.sources import (
    check_armored_key,
    check_image_repository,
    check_pem_certificate,
    image_repository_host,
)
from components.model import lenient, parse
from components.validation import Problems
from components.versions import DEFAULT_KUBERNETES_VERSION

PACKAGES_KEY = "homelab:packages"
CLUSTER_KEY = "homelab:cluster"
KEY_SOURCES = ("signingKey", "signingKeyPath", "signingKeyUrl")


def _read_text(path: str, key: str, what: str, problems: Problems) -> str | None:
    p = Path(os.path.expandvars(os.path.expanduser(path)))
    try:
        return p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        problems.error(key, f"cannot read the {what} file {path!r} ({getattr(exc, 'strerror', None) or exc})")
        return None


def kubernetes_version_of(cluster_raw: Any) -> str | None:
    """The cluster's version even when other cluster keys are wrong (its own errors are reported there)."""
    text = cluster_raw.get("kubernetesVersion") if isinstance(cluster_raw, Mapping) else None
    if text is None:
        return DEFAULT_KUBERNETES_VERSION
    try:
        return kubernetes_version(str(text))
    except PydanticCustomError:
        return None


def parse_packages(raw: Any, problems: Problems, kubernetes_version: str | None) -> PackageSource:
    """The Kubernetes apt repository, its signing key (inline, file or URL) and an exact version."""
    section = parse(PackagesSection, raw, PACKAGES_KEY, problems, context={"kubernetes_version": kubernetes_version})
    given = [k for k in KEY_SOURCES if isinstance(raw, Mapping) and k in raw]
    if len(given) > 1:  # on the raw section: reported even when a value is wrong too
        problems.error(
            f"{PACKAGES_KEY}.{given[1]}",
            f"give one of signingKeyUrl, signingKey, signingKeyPath, not {' and '.join(given)}",
        )
    if section is None:
        return PackageSource()
    signing_key = section.signing_key
    if section.signing_key_path is not None:
        key_text = _read_text(section.signing_key_path, f"{PACKAGES_KEY}.signingKeyPath", "signing key", problems)
        if key_text is not None and (message := check_armored_key(key_text)):
            problems.error(f"{PACKAGES_KEY}.signingKeyPath", message)
        signing_key = key_text.strip() + "\n" if key_text else ""
    if isinstance(raw, Mapping) and "aptRepository" in raw and not given:
        problems.warn(
            f"{PACKAGES_KEY}.signingKeyUrl",
            f"no signing key given: hosts fetch {section.apt_repository}Release.key (as from pkgs.k8s.io); "
            "an air-gapped mirror should set signingKey or signingKeyUrl",
        )
    return PackageSource(
        apt_repository=section.apt_repository,
        signing_key=signing_key,
        signing_key_url=section.signing_key_url,
        package_version=section.package_version,
    )


def check_registries(cluster_raw: Any, problems: Problems) -> None:
    """Registry rules across entries and keys, on each entry valid by itself (the model reports
    the others): a host listed once, one CA source, and the warnings."""
    raw = cluster_raw if isinstance(cluster_raw, Mapping) else {}
    entries = raw.get("registries")
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        key = f"{CLUSTER_KEY}.registries[{i}]"
        item = entry if isinstance(entry, Mapping) else {}
        if "caCert" in item and "caCertPath" in item:
            problems.error(f"{key}.caCertPath", "give caCert or caCertPath, not both")
        host = lenient(RegistryHost, {"host": item.get("host")})
        if host is not None:
            if host.host in seen:
                problems.error(f"{key}.host", f"{host.host!r} is already {CLUSTER_KEY}.registries[{seen[host.host]}]")
            seen.setdefault(host.host, i)
        if "caCert" not in item and "caCertPath" not in item and item.get("insecure") is not True:
            problems.warn(f"{key}.host", "neither insecure nor a CA: containerd uses HTTPS and the system's CAs")
    repository = raw.get("imageRepository")
    if isinstance(repository, str) and repository and check_image_repository(repository) is None:
        host = image_repository_host(repository)
        if host not in seen and (":" in host or host.replace(".", "").isdigit()):
            problems.warn(
                f"{CLUSTER_KEY}.imageRepository",
                f"{host} has no entry in {CLUSTER_KEY}.registries: containerd will use HTTPS with the system's CAs "
                "(add {host: ..., insecure: true} for a plain-HTTP registry)",
            )


def registry_hosts(registries: tuple[Registry, ...], problems: Problems) -> tuple[RegistryHost, ...]:
    """The validated entries as containerd's hosts, a caCertPath read from this machine."""
    out: list[RegistryHost] = []
    for i, registry in enumerate(registries):
        ca = registry.ca_cert
        if registry.ca_cert_path is not None:
            key = f"{CLUSTER_KEY}.registries[{i}].caCertPath"
            text = _read_text(registry.ca_cert_path, key, "CA certificate", problems)
            if text is not None and (message := check_pem_certificate(text)):
                problems.error(key, message)
            elif text is not None and registry.insecure:
                problems.error(key, "a CA certificate is for HTTPS; insecure: true means plain HTTP")
            ca = text.strip() + "\n" if text else ""
        out.append(RegistryHost.model_construct(host=registry.host, insecure=registry.insecure, ca_cert=ca))
    return tuple(out)
