"""`homelab:backup`: parsing, the OnCalendar check, and the rendered snapshot script and units."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from components.cluster import backup as b
from components.cluster.oncalendar import calendar_problem
from components.validation import ConfigError, Problems
from lab.backup import parse_backup
from lab.settings import build_settings
from tests.support.stacks import raw_stack

SECRET = {"homelab:ssh"}


def dev_raw() -> dict[str, object]:
    raw = raw_stack("dev")
    raw["ssh"] = {"user": "lab", "privateKey": "not-a-key"}
    return raw


# (expression, valid per systemd.time(7)); compared with systemd-analyze below when present.
CALENDAR_CASES: list[tuple[str, bool]] = [
    ("daily", True),
    ("Daily", True),
    ("weekly Europe/Berlin", True),
    ("*-*-* 03:00", True),
    ("*-*-* 03:00:00 UTC", True),
    ("Mon..Fri 02:30", True),
    ("monday 03:00", True),
    ("Sat,Sun *-*-* 04:00:00", True),
    ("*-*-* 00/6:00", True),
    ("*:0/15", True),
    ("*-02~03", True),
    ("*-*-31", True),
    ("2026-02-29", True),
    ("Mon", True),
    ("*-*-* *:00/15", True),
    ("Mon *-*-* 3:0:0.5", True),
    ("bogus", False),
    ("25:00", False),
    ("2026-13-01", False),
    ("03:00 Mon", False),
    ("Fri..Mon 03:00", False),
    ("*-*-* 05..03:00", False),
    ("*-*-* 03:00:60", False),
    ("*:0/0", False),
    ("1969-01-01", False),
    ("", False),
    ("every day", False),
]


@pytest.mark.parametrize(("expression", "valid"), CALENDAR_CASES)
def test_oncalendar_check(expression: str, valid: bool) -> None:
    assert (calendar_problem(expression) is None) is valid, calendar_problem(expression)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing: apt-get install systemd")
def test_oncalendar_check_agrees_with_systemd() -> None:
    disagree = []
    for expression, _ in CALENDAR_CASES:
        if not expression:
            continue
        real = subprocess.run(["systemd-analyze", "calendar", expression], capture_output=True, check=False)
        ours = calendar_problem(expression) is None
        if (real.returncode == 0) != ours:
            disagree.append((expression, real.returncode, calendar_problem(expression)))
    assert disagree == []


def test_absent_section_means_no_backups() -> None:
    assert parse_backup(None, Problems()) is None
    assert build_settings(dev_raw(), SECRET).backup is None


def test_defaults_and_values() -> None:
    problems = Problems()
    assert parse_backup({}, problems) is None  # Pulumi.yaml's default: not asked for
    assert parse_backup({"enabled": True}, problems) == b.EtcdBackup()
    got = parse_backup(
        {"schedule": "Mon..Fri  02:30", "directory": "/mnt/nas/etcd/", "keep": 3, "enabled": False}, problems
    )
    assert got == b.EtcdBackup(schedule="Mon..Fri 02:30", directory="/mnt/nas/etcd", keep=3, enabled=False)
    assert not problems.errors


def test_every_problem_at_once_with_its_key() -> None:
    raw = dev_raw()
    raw["backup"] = {"schedule": "every night", "directory": "backups", "keep": 0, "enabled": "yes", "when": 1}
    with pytest.raises(ConfigError) as err:
        build_settings(raw, SECRET)
    keys = sorted(p.key for p in err.value.problems)  # the model's order: fields, then unknown keys
    assert keys == [
        "homelab:backup.directory",
        "homelab:backup.enabled",
        "homelab:backup.keep",
        "homelab:backup.schedule",
        "homelab:backup.when",
    ]
    message = str(err.value)
    assert "'every night' is not a systemd OnCalendar expression" in message
    assert "'backups' must be an absolute path" in message


@pytest.mark.parametrize("directory", ["/var/lib/etcd", "/var/lib/etcd/snapshots", "/etc/kubernetes/x", "/tmp", "/"])
def test_directories_that_get_wiped_are_refused(directory: str) -> None:
    problems = Problems()
    parse_backup({"directory": directory}, problems)
    assert [p.key for p in problems.errors] == ["homelab:backup.directory"]


def test_backup_key_is_known_to_settings() -> None:
    raw = dev_raw()
    raw["backup"] = {"schedule": "*-*-* 03:00", "keep": 14}
    settings = build_settings(raw, SECRET)
    assert settings.backup == b.EtcdBackup(schedule="*-*-* 03:00", keep=14)


# --- rendering ---------------------------------------------------------------------------------

BACKUP = b.EtcdBackup(schedule="*-*-* 03:00", directory="/var/backups/homelab-etcd", keep=5)


def _bash_syntax_ok(script: str) -> None:
    res = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr


def test_snapshot_script_in_the_etcd_container() -> None:
    script = b.snapshot_script(BACKUP, "cp01")
    _bash_syntax_ok(script)
    assert (
        "crictl --runtime-endpoint unix:///run/containerd/containerd.sock ps -q --state Running --name '^etcd$'"
        in script
    )
    assert (
        'etcd_tool() { crictl --runtime-endpoint unix:///run/containerd/containerd.sock exec "$CID" "$@"; }' in script
    )
    assert "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt" in script
    assert "--cacert=/etc/kubernetes/pki/etcd/ca.crt" in script
    assert "--endpoints=https://127.0.0.1:2379" in script
    assert "STAGE=/var/lib/etcd" in script  # mounted at the same path inside the container
    assert 'etcd_tool etcdutl snapshot status "$PART"' in script
    assert script.index("snapshot status") < script.index('mv -f "$DIR/.$NAME.part" "$DIR/$NAME"')
    assert "KEEP=5" in script and "PREFIX=etcd-cp01-" in script
    assert "umask 077" in script


def test_snapshot_script_with_host_tools() -> None:
    script = b.snapshot_script(BACKUP, "cp01", tools="host", pki_dir="/x/pki", endpoint="https://127.0.0.1:1234")
    _bash_syntax_ok(script)
    assert "crictl" not in script
    assert 'STAGE="$DIR"' in script
    assert "--cert=/x/pki/healthcheck-client.crt" in script and "--endpoints=https://127.0.0.1:1234" in script


def test_units() -> None:
    timer = b.timer_unit(BACKUP)
    assert "OnCalendar=*-*-* 03:00\n" in timer and "Persistent=true" in timer
    assert "WantedBy=timers.target" in timer
    service = b.service_unit()
    assert f"ExecStart={b.SCRIPT_PATH}\n" in service and "Type=oneshot" in service


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing: apt-get install systemd")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify needs the ExecStart binary to exist: point the unit at a copy of the rendered script.
    script = tmp_path / "homelab-etcd-snapshot"
    script.write_text(b.snapshot_script(BACKUP, "cp01"))
    script.chmod(0o700)
    (tmp_path / f"{b.UNIT}.service").write_text(b.service_unit().replace(b.SCRIPT_PATH, str(script)))
    (tmp_path / f"{b.UNIT}.timer").write_text(b.timer_unit(BACKUP))
    res = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            str(tmp_path / f"{b.UNIT}.timer"),
            str(tmp_path / f"{b.UNIT}.service"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    relevant = [line for line in res.stderr.splitlines() if b.UNIT in line]
    assert res.returncode == 0 and not relevant, res.stderr


def test_install_script_writes_script_and_units_then_starts_the_timer() -> None:
    script = b.install_script(BACKUP, "cp01")
    _bash_syntax_ok(script)
    for path in (b.SCRIPT_PATH, f"{b.UNIT_DIR}/{b.UNIT}.service", f"{b.UNIT_DIR}/{b.UNIT}.timer"):
        assert f"mv -f {path}.tmp {path}" in script
    assert "chmod 0700 /usr/local/sbin/homelab-etcd-snapshot.tmp" in script
    assert script.index("systemctl daemon-reload") < script.index(f"systemctl enable {b.UNIT}.timer")
    # The embedded snapshot script is the one rendered for this node, verbatim.
    assert b.snapshot_script(BACKUP, "cp01") in script


def test_disabled_backups_remove_the_timer_and_keep_snapshots() -> None:
    script = b.install_script(b.EtcdBackup(enabled=False), "cp01")
    _bash_syntax_ok(script)
    assert f"systemctl disable --now {b.UNIT}.timer" in script
    assert "etcdctl" not in script and b.EtcdBackup().directory not in script  # snapshots untouched
    assert "rm -rf" not in b.uninstall_script() and b.EtcdBackup().directory not in b.uninstall_script()
