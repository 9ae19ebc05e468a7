"""`kubeadm certs check-expiration -o json` from the real kubeadm, read by our parser.

The PKI is made by the same kubeadm (`init phase certs all --cert-dir`), so the names,
the CA links and the one-year/ten-year validity are kubeadm's own. The kubeconfig files
(admin.conf, ...) live in /etc/kubernetes, which this test does not touch: kubeadm
reports them as missing, which the parser must handle too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from components.cluster.cert_expiry import expiry_warnings, parse_check_expiration

from .binaries import require_tool, run

pytestmark = pytest.mark.realbin


@pytest.fixture(scope="module")
def expiration_json(tmp_path_factory: pytest.TempPathFactory) -> str:
    kubeadm = require_tool("kubeadm")
    pki: Path = tmp_path_factory.mktemp("pki")
    made = run([kubeadm, "init", "phase", "certs", "all", "--cert-dir", pki, "--kubernetes-version", "v1.34.0"])
    assert made.ok, made.output
    res = run([kubeadm, "certs", "check-expiration", "-o", "json", "--cert-dir", pki, "--kubeconfig", pki / "none"])
    assert res.ok, res.output
    return res.stdout


def test_real_output_parses(expiration_json: str) -> None:
    certs = parse_check_expiration(expiration_json)
    now = datetime.now(UTC)
    leaves = {c.name: c for c in certs if not c.authority}
    cas = {c.name: c for c in certs if c.authority}
    assert {"ca", "etcd-ca", "front-proxy-ca"} <= set(cas)
    assert {"apiserver", "apiserver-etcd-client", "etcd-healthcheck-client", "etcd-server"} <= set(leaves)
    for name in ("apiserver", "etcd-server", "front-proxy-client"):
        c = leaves[name]
        assert c.expires is not None and timedelta(days=360) < c.expires - now < timedelta(days=366), c
    assert leaves["apiserver-etcd-client"].ca_name == "etcd-ca"
    assert all(c.expires is not None and c.expires - now > timedelta(days=3600) for c in cas.values())
    # The kubeconfig-embedded certificates are not in this temp PKI: reported missing.
    assert leaves["admin.conf"].expires is None
    assert expiry_warnings("cp01", certs, now) == []
    # Eleven months on, every one-year leaf is inside the 30-day window; the CAs are not.
    later = expiry_warnings("cp01", certs, now + timedelta(days=340))
    assert any("certificate apiserver expires" in line for line in later)
    assert not any(" CA " in line for line in later)
