"""`scripts/lab check` for real, against throwaway hosts (network namespaces running sshd).

Faults are injected inside one node's own mount/network namespace, so nothing on this
machine changes: a swap entry bind-mounted over /proc/swaps, a missing LAN interface
(others get one (a bridge)), a port taken on a new node, a cloned /etc/machine-id, a wrong
host-key pin. A cloned product_uuid cannot be made here (this machine has no
/sys/class/dmi); the rule is covered with recorded facts in tests/unit/test_check.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from components.cluster.preflight_rules import NodeProbe
from tests.e2e.check_stack import write_check_stack
from tests.e2e.hosts import E2EHost, hosts_or_skip
from tools.check import main as check_main
from tools.check import run_check

SUBNET = "10.250.111.0/24"  # a test bridge of our own, apart from the shared e2e fixture's


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[E2EHost]]:
    tmp = tmp_path_factory.mktemp("check-hosts")
    with hosts_or_skip(tmp, 3, subnet=SUBNET, names=["cp01", "worker01", "worker02"]) as started:
        # Distinct machine-ids, as distinct machines have (the namespaces share this box's).
        for i, h in enumerate(started):
            (h.root / "machine-id").write_text(f"{i + 1:032x}\n")
            assert h.ssh(f"mount --bind {h.root / 'machine-id'} /etc/machine-id").returncode == 0
        yield started


def _by_name(probes: list[NodeProbe]) -> dict[str, NodeProbe]:
    return {p.name: p for p in probes}


def _fatal(p: NodeProbe) -> list[str]:
    return [f.check for f in p.findings if f.severity == "fatal"]


def _checks(p: NodeProbe, severity: str) -> set[str]:
    return {f.check for f in p.findings if f.severity == severity}


def test_clean_hosts_pass_with_every_fact_read(hosts: list[E2EHost], tmp_path: Path) -> None:
    path = write_check_stack(tmp_path, hosts, SUBNET)
    probes, _, _ = run_check("e2e", path)
    for p in probes:
        assert p.facts is not None, p.error
        assert _fatal(p) == [], p.findings
        assert {"reachable", "sudo", "os", "address", "swap", "clock", "ports", "disk"} <= _checks(p, "ok")
        assert p.facts.hostname == p.name and p.facts.member is False
        assert p.host_key_seen == next(h.host_key_pub for h in hosts if h.name == p.name)
    assert check_main(["e2e", "--stack-file", str(path)]) == 0


def test_injected_faults_are_reported_per_node_all_at_once(
    hosts: list[E2EHost], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cp01, worker01, worker02 = hosts
    fake_swaps = cp01.root / "swaps"
    fake_swaps.write_text("Filename\tType\tSize\tUsed\tPriority\n/swapfile\tfile\t1048572\t0\t-2\n")
    undo: list[tuple[E2EHost, str]] = []
    listener: subprocess.Popen[bytes] | None = None
    try:
        assert cp01.ssh(f"mount --bind {fake_swaps} /proc/swaps").returncode == 0
        undo.append((cp01, "umount /proc/swaps"))
        for h in (cp01, worker01):  # worker02 lacks the LAN interface
            subprocess.run(["ip", "netns", "exec", h.netns, "ip", "link", "add", "lan0", "type", "bridge"], check=True)
        # A kubelet port taken on a new worker.
        listener = subprocess.Popen(
            ["ip", "netns", "exec", worker01.netns, "python3", "-c",
             "import socket,time;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
             "s.bind(('0.0.0.0',10250));s.listen();time.sleep(120)"],
        )  # fmt: skip
        # worker02 is a clone of worker01 (same machine-id).
        assert worker02.ssh(f"mount --bind {worker01.root / 'machine-id'} /etc/machine-id").returncode == 0
        undo.append((worker02, f"mount --bind {worker02.root / 'machine-id'} /etc/machine-id"))
        path = write_check_stack(tmp_path, hosts, SUBNET, lan_interface="lan0")
        deadline_ok = False
        for _ in range(50):
            probes = _by_name(run_check("e2e", path)[0])
            if 10250 in (probes["worker01"].facts.listening if probes["worker01"].facts else set()):
                deadline_ok = True
                break
        assert deadline_ok, "the test listener on 10250 never showed"
        assert _checks(probes["cp01"], "warn") >= {"swap"}  # prepare turns swap off: a warning
        assert "/swapfile" in next(f.message for f in probes["cp01"].findings if f.check == "swap")
        assert _fatal(probes["worker02"]) == ["lan-interface"]
        assert _fatal(probes["worker01"]) == ["ports"]
        assert "machine-id" in _checks(probes["worker01"], "warn") and "machine-id" in _checks(
            probes["worker02"], "warn"
        )
        assert "machine-id" not in _checks(probes["cp01"], "warn")
        assert check_main(["e2e", "--stack-file", str(path)]) == 1
        report = capsys.readouterr().out
        # One report, grouped by node, in stack order, with every problem.
        assert report.index("cp01 ") < report.index("worker01 ") < report.index("worker02 ")
        assert "FATAL ports: new node, but port(s) 10250" in report
        assert "FATAL lan-interface: homelab:network.lanAttachment.interface 'lan0' does not exist" in report
        assert "NOT READY: 2 fatal" in report
    finally:
        if listener is not None:
            listener.kill()
            listener.wait()
        for h in (cp01, worker01):
            subprocess.run(["ip", "netns", "exec", h.netns, "ip", "link", "del", "lan0"], check=False)
        for h, command in undo:
            h.ssh(command)


def test_unreachable_node_and_no_sudo_and_prepare_false(hosts: list[E2EHost], tmp_path: Path) -> None:
    path = write_check_stack(tmp_path, hosts, SUBNET)
    doc = yaml.safe_load(path.read_text())
    doc["config"]["homelab:nodes"][2]["address"] = "10.250.111.99"  # nothing answers there
    path.write_text(yaml.safe_dump(doc))
    probes = _by_name(run_check("e2e", path, timeout=30)[0])
    assert probes["worker02"].facts is None and _fatal(probes["worker02"]) == ["reachable"]
    assert "10.250.111.99" in probes["worker02"].findings[0].message
    assert _fatal(probes["cp01"]) == [] and _fatal(probes["worker01"]) == []


def test_pin_host_keys_writes_pins_keeps_comments_and_catches_a_wrong_pin(
    hosts: list[E2EHost], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_check_stack(tmp_path, hosts, SUBNET, comment="my lab: keep this comment")
    assert check_main(["e2e", "--stack-file", str(path), "--pin-host-keys"]) == 0
    out = capsys.readouterr().out
    text = path.read_text()
    assert text.startswith("# my lab: keep this comment\n")
    for i, h in enumerate(hosts):
        assert f"pinned: homelab:nodes[{i}].ssh.hostKey ({h.name}): {h.host_key_pub}" in out
        assert yaml.safe_load(text)["config"]["homelab:nodes"][i]["ssh"]["hostKey"] == h.host_key_pub
    # With the pins, ssh verifies the host keys, and the check says they match.
    probes = run_check("e2e", path)[0]
    assert all("host-key" in _checks(p, "ok") and p.facts is not None for p in probes)
    assert check_main(["e2e", "--stack-file", str(path), "--pin-host-keys"]) == 0
    assert "pinned: nothing to change" in capsys.readouterr().out

    # A wrong pin: fatal, the host is not logged in to, and the pin is not overwritten.
    doc = yaml.safe_load(text)
    doc["config"]["homelab:nodes"][1]["ssh"]["hostKey"] = hosts[2].host_key_pub
    path.write_text(yaml.safe_dump(doc))
    probes_by = _by_name(run_check("e2e", path)[0])
    assert set(_fatal(probes_by["worker01"])) == {"reachable", "host-key"}
    assert check_main(["e2e", "--stack-file", str(path), "--pin-host-keys"]) == 1
    assert "homelab:nodes[1].ssh.hostKey: NOT changed" in capsys.readouterr().out
    assert yaml.safe_load(path.read_text())["config"]["homelab:nodes"][1]["ssh"]["hostKey"] == hosts[2].host_key_pub
