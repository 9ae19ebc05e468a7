"""kubeadm's own config validation and certificate generation."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

pytest.importorskip("cryptography", reason="tests/realbin needs `pip install cryptography==50.0.2`")

from cryptography import x509  # noqa: E402

from .binaries import CommandResult, require_tool, run  # noqa: E402


def _config_file(config: str | Path, directory: Path) -> Path:
    if isinstance(config, Path):
        return config
    path = directory / "kubeadm.yaml"
    path.write_text(config)
    return path


def kubeadm_config_validate(config: str | Path) -> CommandResult:
    """`kubeadm config validate --config` on YAML text or a file; check `.ok`/`.output`."""
    kubeadm = require_tool("kubeadm")
    with tempfile.TemporaryDirectory(prefix="kubeadm-") as tmp:
        return run([kubeadm, "config", "validate", "--config", _config_file(config, Path(tmp))])


@dataclass(frozen=True)
class CertSANs:
    dns_names: list[str]
    ip_addresses: list[str]


def read_cert_sans(pem: bytes) -> CertSANs:
    cert = x509.load_pem_x509_certificate(pem)
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return CertSANs([], [])
    return CertSANs(
        [str(n) for n in ext.get_values_for_type(x509.DNSName)],
        [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)],
    )


def kubeadm_apiserver_sans(config: str | Path, cert_dir: Path | None = None) -> CertSANs:
    """Run `kubeadm init phase certs all` on a config; return the apiserver.crt SANs.

    kubeadm refuses `--cert-dir` together with `--config`, so the ClusterConfiguration's
    `certificatesDir` is pointed at a scratch directory instead (only that field changes).
    """
    kubeadm = require_tool("kubeadm")
    text = config.read_text() if isinstance(config, Path) else config
    docs = [d for d in yaml.safe_load_all(text) if d]
    with tempfile.TemporaryDirectory(prefix="kubeadm-certs-") as tmp:
        out_dir = cert_dir or Path(tmp) / "pki"
        clusters = [d for d in docs if d.get("kind") == "ClusterConfiguration"]
        if not clusters:
            api = next(
                (d["apiVersion"] for d in docs if "kubeadm.k8s.io" in str(d.get("apiVersion"))),
                "kubeadm.k8s.io/v1beta4",
            )
            clusters = [{"apiVersion": api, "kind": "ClusterConfiguration"}]
            docs.append(clusters[0])
        for c in clusters:
            c["certificatesDir"] = str(out_dir)
        path = Path(tmp) / "kubeadm.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        res = run([kubeadm, "init", "phase", "certs", "all", "--config", path])
        if not res.ok:
            raise RuntimeError(f"kubeadm init phase certs all failed ({res.returncode}):\n{res.output}")
        return read_cert_sans((out_dir / "apiserver.crt").read_bytes())
