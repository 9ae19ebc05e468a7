"""Certificate expiry: kubeadm's JSON parsed, the 30-day warnings, the lab CA leaves.

SAMPLE has the shape of output.kubeadm.k8s.io/v1alpha3 CertificateExpirationInfo
(kubeadm's cmd/kubeadm/app/apis/output/v1alpha3/types.go); tests/realbin checks the
parser against the real kubeadm's output.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from components.cluster.cert_expiry import (
    CertExpiry,
    check_expiration_script,
    expiry_warnings,
    leaf_expiry,
    parse_check_expiration,
)
from components.expiry import lab_ca_report

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _entry(name: str, expires: str | None, ca: str = "", missing: bool = False) -> dict[str, object]:
    entry: dict[str, object] = {"name": name, "expirationDate": expires, "residualTime": 1}
    entry |= {"externallyManaged": False, "missing": missing}
    return entry | ({"caName": ca} if ca else {})


def _sample(apiserver_expires: str = "2027-11-30T09:03:00Z") -> str:
    return json.dumps(
        {
            "kind": "CertificateExpirationInfo",
            "apiVersion": "output.kubeadm.k8s.io/v1alpha3",
            "certificates": [
                _entry("admin.conf", "2027-11-30T09:03:00Z", "ca"),
                _entry("apiserver", apiserver_expires, "ca"),
                _entry("super-admin.conf", None, missing=True),  # as the real kubeadm prints it,
            ],
            "certificateAuthorities": [_entry("ca", "2035-11-28T09:03:00Z")],
        }
    )


def test_parse() -> None:
    certs = parse_check_expiration(_sample())
    assert [c.name for c in certs] == ["admin.conf", "apiserver", "super-admin.conf", "ca"]
    assert certs[1] == CertExpiry("apiserver", datetime(2027, 11, 30, 9, 3, tzinfo=UTC), ca_name="ca")
    assert certs[2].expires is None  # missing
    assert certs[3].authority and certs[3].expires == datetime(2035, 11, 28, 9, 3, tzinfo=UTC)
    assert certs[1].as_output() == {
        "name": "apiserver",
        "expires": "2027-11-30T09:03:00Z",
        "authority": False,
        "caName": "ca",
    }


def test_parse_tolerates_log_lines_before_the_json() -> None:
    text = "[check-expiration] Reading configuration from the cluster...\n" + _sample()
    assert len(parse_check_expiration(text)) == 4


@pytest.mark.parametrize(
    "bad",
    ["", "no json here", json.dumps({"kind": "Pod"}), '{"error": "kubeadm certs check-expiration failed on cp01"}'],
)
def test_parse_refuses_other_output(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_check_expiration(bad)


def test_warnings_within_30_days_and_expired() -> None:
    soon = parse_check_expiration(_sample("2026-12-20T00:00:00Z"))
    lines = expiry_warnings("control plane cp01", soon, NOW)
    assert lines == [
        "control plane cp01: certificate apiserver expires on 2026-12-20 00:00 UTC (in 18 days); see docs/day-two.md"
    ]
    gone = parse_check_expiration(_sample("2026-11-01T00:00:00Z"))
    assert expiry_warnings("cp01", gone, NOW) == ["cp01: certificate apiserver EXPIRED on 2026-11-01 00:00 UTC"]
    assert expiry_warnings("cp01", parse_check_expiration(_sample()), NOW) == []


def test_lab_ca_leaves() -> None:
    leaf = leaf_expiry("web", "2026-12-15T10:00:00Z")
    assert leaf.expires == datetime(2026, 12, 15, 10, tzinfo=UTC) and leaf.ca_name == "lab CA"
    report = lab_ca_report({"web": "2026-12-15T10:00:00Z", "api": "2030-01-01T00:00:00Z"}, NOW)
    assert [r["name"] for r in report] == ["api", "web"]
    assert expiry_warnings("lab CA", [leaf], NOW)[0].startswith("lab CA: certificate web expires on 2026-12-15")
    assert expiry_warnings("lab CA", [leaf], NOW - timedelta(days=60)) == []


def test_script_changes_once_a_day_and_is_bash() -> None:
    a, b = check_expiration_script("2026-12-01"), check_expiration_script("2026-12-02")
    assert a != b and a.replace("2026-12-01", "2026-12-02") == b
    assert "kubeadm certs check-expiration -o json" in a
    assert subprocess.run(["bash", "-n"], input=a, text=True, check=False).returncode == 0
