"""`homelab:packages` and `homelab:cluster.{imageRepository,registries}`: where hosts get software.

A user with internet keeps the defaults (pkgs.k8s.io, registry.k8s.io); a mirrored or
air-gapped lab points both at its own servers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from components.cluster.model import PKGS_K8S_IO, PackageSource, RegistryHost
from components.cluster.sources import (
    check_apt_repository,
    check_armored_key,
    check_image_repository,
    check_package_version,
    check_pem_certificate,
    check_registry_host,
    check_url,
    image_repository_host,
)
from components.validation import Problems
from lab.context import Section

PACKAGES_KEY = "homelab:packages"


def _read_text(path: str, key: str, what: str, problems: Problems) -> str | None:
    p = Path(os.path.expandvars(os.path.expanduser(path)))
    try:
        return p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        problems.error(key, f"cannot read the {what} file {path!r} ({getattr(exc, 'strerror', None) or exc})")
        return None


def kubernetes_version_of(cluster_raw: Any) -> str | None:
    """The cluster's version even when other cluster keys are wrong (its own errors are reported there)."""
    from lab.cluster import parse_version  # lab.cluster imports this module

    text = cluster_raw.get("kubernetesVersion") if isinstance(cluster_raw, dict) else None
    return parse_version(str(text) if text is not None else None, "", Problems())


def parse_packages(raw: Any, problems: Problems, kubernetes_version: str | None) -> PackageSource:
    """The Kubernetes apt repository, its signing key (inline, file or URL) and an exact version."""
    s = Section(raw, PACKAGES_KEY, problems)
    s.unknown({"aptRepository", "signingKey", "signingKeyPath", "signingKeyUrl", "packageVersion"})
    repo = s.str("aptRepository")
    if repo is not None:
        if problem := check_apt_repository(repo):
            problems.error(s.sub("aptRepository"), problem)
        elif not repo.endswith("/"):
            repo += "/"  # a flat repository: apt appends Release, Packages to this directory
    given = [k for k in ("signingKey", "signingKeyPath", "signingKeyUrl") if k in s.raw]
    if len(given) > 1:
        problems.error(
            s.sub(given[1]), f"give one of signingKeyUrl, signingKey, signingKeyPath, not {' and '.join(given)}"
        )
    key_text = s.str("signingKey")
    if (path := s.str("signingKeyPath")) is not None:
        key_text = _read_text(path, s.sub("signingKeyPath"), "signing key", problems)
    if key_text is not None and (problem := check_armored_key(key_text)):
        problems.error(s.sub(given[0] if given else "signingKey"), problem)
    key_url = s.str("signingKeyUrl")
    if key_url is not None and (problem := check_url(key_url, "a signing key")):
        problems.error(s.sub("signingKeyUrl"), problem)
    if repo is not None and not given:
        problems.warn(
            s.sub("signingKeyUrl"),
            f"no signing key given: hosts fetch {repo}Release.key (as from pkgs.k8s.io); "
            "an air-gapped mirror should set signingKey or signingKeyUrl",
        )
    version = s.str("packageVersion")
    if version is not None and (problem := check_package_version(version, kubernetes_version)):
        problems.error(s.sub("packageVersion"), problem)
    return PackageSource(
        apt_repository=repo or PKGS_K8S_IO,
        signing_key=(key_text or "").strip() + "\n" if key_text else "",
        signing_key_url=key_url or "",
        package_version=version or "",
    )


def parse_image_repository(cluster: Section) -> str:
    """`homelab:cluster.imageRepository`: kubeadm's imageRepository (and the pause image's)."""
    repo = cluster.str("imageRepository")
    if repo is None:
        return ""
    if problem := check_image_repository(repo):
        cluster.problems.error(cluster.sub("imageRepository"), problem)
        return ""
    return repo


def parse_registries(cluster: Section, image_repository: str) -> tuple[RegistryHost, ...]:
    """`homelab:cluster.registries`: [{host, insecure | caCert | caCertPath}] → containerd hosts.toml."""
    key = cluster.sub("registries")
    problems = cluster.problems
    registries: list[RegistryHost] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(cluster.list("registries")):
        r = Section(item, f"{key}[{i}]", problems)
        r.unknown({"host", "insecure", "caCert", "caCertPath"})
        host = r.str("host", required=True)
        if host is not None:
            if problem := check_registry_host(host):
                problems.error(r.sub("host"), problem)
                host = None
            elif host in seen:
                problems.error(r.sub("host"), f"{host!r} is already {key}[{seen[host]}]")
            else:
                seen[host] = i
        insecure = r.bool("insecure", False)
        if "caCert" in r.raw and "caCertPath" in r.raw:
            problems.error(r.sub("caCertPath"), "give caCert or caCertPath, not both")
        ca = r.str("caCert")
        ca_key = r.sub("caCert")
        if (path := r.str("caCertPath")) is not None:
            ca, ca_key = _read_text(path, r.sub("caCertPath"), "CA certificate", problems), r.sub("caCertPath")
        if ca is not None:
            if problem := check_pem_certificate(ca):
                problems.error(ca_key, problem)
            if insecure:
                problems.error(ca_key, "a CA certificate is for HTTPS; insecure: true means plain HTTP")
        elif not insecure:
            problems.warn(r.sub("host"), "neither insecure nor a CA: containerd uses HTTPS and the system's CAs")
        if host is not None:
            pem = ca.strip() + "\n" if ca else ""
            registries.append(RegistryHost(host=host, insecure=insecure, ca_cert=pem))
    if image_repository:
        host = image_repository_host(image_repository)
        if host not in seen and (":" in host or host.replace(".", "").isdigit()):
            problems.warn(
                cluster.sub("imageRepository"),
                f"{host} has no entry in {key}: containerd will use HTTPS with the system's CAs "
                "(add {host: ..., insecure: true} for a plain-HTTP registry)",
            )
    return tuple(registries)
