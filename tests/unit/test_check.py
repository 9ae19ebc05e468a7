"""The preflight check's pure parts: the probe script, its parser, the rules and the report.

RECORDED is a probe's real output on a throwaway host (benchmarks/check.py --record);
the others are that output edited the way a real machine differs (a DMI product_uuid,
physical NICs, cgroup v2, kubeadm's ports taken), so each rule meets its fault.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest
import yaml

from components.cluster.preflight_probe import Facts, parse_facts, probe_script
from components.cluster.preflight_rules import NodeProbe, clock_skew, evaluate, fatal_count, format_report
from tools.check import pin_host_keys_text

RECORDED = """probe=1
time=1796134841.215187455
user=root
sudo=root
os_id=debian
os_version=12
os_name=Debian GNU/Linux 12 (bookworm)
hostname=node1
iface=eth0 c6:06:ef:48:00:25 0
addr=lo 127.0.0.1/8
addr=eth0 10.250.112.10/24
product_uuid=
machine_id=3d1219c7c4c5404aaa1f6d2a48adfda4
cgroup_fs=sysfs
member=0
listen=10.250.112.10:22
var_lib_free_kib=74585796
end=1
"""

UBUNTU = """probe=1
time=1796134841.5
user=lab
sudo=yes
os_id=ubuntu
os_version=24.04
os_name=Ubuntu 24.04.3 LTS
hostname=cp01
iface=eno1 54:b2:03:0a:11:01 1
iface=wlp2s0 a0:88:69:11:22:33 1
iface=cilium_host 6a:2f:00:00:00:01 0
addr=lo 127.0.0.1/8
addr=eno1 192.168.2.11/24
product_uuid=4C4C4544-0042-3010-8057-B4C04F4A4E32
machine_id=0f5c8d0a6c8b4d0e9d1b0c2a3e4f5a6b
swap=/swap.img
cgroup_fs=cgroup2fs
member=0
listen=0.0.0.0:22
listen=[::]:10250
listen=127.0.0.1:2379
listen=*:6443
var_lib_free_kib=1048576
end=1
"""


def test_probe_script_is_bash_and_read_only() -> None:
    script = probe_script()
    assert subprocess.run(["bash", "-n"], input=script, text=True, check=False).returncode == 0
    # Nothing that writes: no redirection into a file, no package or service tools.
    for word in (" > /", ">>", "rm ", "mv ", "apt", "systemctl", "swapoff", "mount ", "tee "):
        assert word not in script, word
    assert script.rstrip().endswith('echo "end=1"')


def test_probe_script_runs_here_and_parses() -> None:
    res = subprocess.run(["bash", "-s"], input=probe_script(), capture_output=True, text=True, check=True)
    facts = parse_facts(res.stdout)
    assert facts.complete and facts.user and facts.os_id and facts.time is not None
    assert facts.sudo in ("root", "yes", "no") and facts.var_lib_free_kib is not None


def test_parse_recorded_output() -> None:
    f = parse_facts(RECORDED)
    assert f.complete and f.sudo == "root" and (f.os_id, f.os_version) == ("debian", "12")
    assert f.time == pytest.approx(1796134841.215187455)
    assert f.interfaces == {"eth0": ("c6:06:ef:48:00:25", False)}
    assert f.addresses == {"127.0.0.1": "lo", "10.250.112.10": "eth0"}
    assert f.product_uuid == "" and f.swaps == [] and f.listening == {22} and not f.member
    assert f.var_lib_free_kib == 74585796


def test_parse_ubuntu_output() -> None:
    f = parse_facts(UBUNTU)
    assert f.product_uuid == "4c4c4544-0042-3010-8057-b4c04f4a4e32"  # compared case-insensitively
    assert f.interfaces["eno1"] == ("54:b2:03:0a:11:01", True)
    assert f.swaps == ["/swap.img"] and f.cgroup_fs == "cgroup2fs"
    assert f.listening == {22, 10250, 2379, 6443}


def test_a_cut_off_probe_is_incomplete() -> None:
    f = parse_facts(RECORDED.split("cgroup_fs")[0])
    assert not f.complete


def _node(name: str, address: str, text: str, role: str = "worker", **kw: object) -> NodeProbe:
    facts = parse_facts(text)
    assert facts.time is not None
    return NodeProbe(
        name=name, address=address, role=role, facts=facts, sent_at=facts.time - 0.1, done_at=facts.time + 0.1, **kw
    )  # type: ignore[arg-type]


def _machine(hostname: str, address: str, mac: str, uuid: str) -> str:
    return (
        UBUNTU.replace("hostname=cp01", f"hostname={hostname}")
        .replace("192.168.2.11", address)
        .replace("54:b2:03:0a:11:01", mac)
        .replace("4C4C4544-0042-3010-8057-B4C04F4A4E32", uuid)
        .replace("a0:88:69:11:22:33", mac.replace("54:b2", "a0:88"))
        .replace("0f5c8d0a6c8b4d0e9d1b0c2a3e4f5a6b", uuid.replace("-", "")[:32].lower())
        .replace("swap=/swap.img\n", "")
        .replace("listen=[::]:10250\nlisten=127.0.0.1:2379\nlisten=*:6443\n", "")
        .replace("var_lib_free_kib=1048576", "var_lib_free_kib=104857600")
    )


def test_a_clean_lab_is_ready() -> None:
    uuid1, uuid2 = "11111111-0000-0000-0000-000000000001", "11111111-0000-0000-0000-000000000002"
    cp_text = _machine("cp01", "192.168.2.11", "54:b2:03:0a:11:01", uuid1)
    w1_text = _machine("w1", "192.168.2.21", "54:b2:03:0a:11:02", uuid2)
    nodes = [_node("cp01", "192.168.2.11", cp_text, "control-plane"), _node("w1", "192.168.2.21", w1_text)]
    evaluate(nodes, lan_interface="eno1")
    assert fatal_count(nodes) == 0, [n.findings for n in nodes]
    expected = {"reachable", "sudo", "os", "address", "lan-interface", "swap", "cgroup", "clock", "ports", "disk"}
    assert {f.check for f in nodes[0].findings if f.severity == "ok"} >= expected | {"product_uuid"}
    assert "ready: 0 fatal" in format_report("dev", nodes, 1.0)


def test_every_fault_at_once_grouped_by_node() -> None:
    clone_uuid = "11111111-0000-0000-0000-000000000001"
    cp01 = _node("cp01", "192.168.2.11", UBUNTU, "control-plane", prepare=False)  # swap on, ports busy, low disk
    w1 = _node("w1", "192.168.2.21", _machine("w1", "192.168.2.21", "54:b2:03:0a:11:02", clone_uuid))
    w2 = _node("w2", "192.168.2.22", _machine("w2", "192.168.2.99", "54:b2:03:0a:11:02", clone_uuid))  # clone of w1
    w2.facts = replace(w2.facts, sudo="no", os_id="fedora", os_version="41", interfaces={})  # type: ignore[type-var]
    assert w2.facts is not None and w1.facts is not None
    w2.facts.interfaces = {"eth9": ("54:b2:03:0a:11:02", True)}
    w1.facts.time = w1.sent_at - 45  # 45 s behind
    down = NodeProbe(
        name="w3", address="192.168.2.23", role="worker", error="unreachable as lab@192.168.2.23:22: timeout"
    )
    nodes = [cp01, w1, w2, down]
    evaluate(nodes, lan_interface="eno1")

    def fatal(n: NodeProbe) -> set[str]:
        return {f.check for f in n.findings if f.severity == "fatal"}

    assert fatal(cp01) == {"swap", "ports", "disk"}
    assert fatal(w1) == {"product_uuid", "mac", "clock"}
    assert fatal(w2) == {"sudo", "os", "address", "lan-interface", "product_uuid", "mac"}
    assert fatal(down) == {"reachable"}
    ports = next(f.message for f in cp01.findings if f.check == "ports")
    assert "2379, 6443, 10250" in ports
    uuid_msg = next(f.message for f in w1.findings if f.check == "product_uuid")
    assert clone_uuid in uuid_msg and "w2" in uuid_msg
    report = format_report("dev", nodes, 2.5)
    assert report.index("cp01 ") < report.index("w1 ") < report.index("w2 ") < report.index("w3 ")
    assert f"NOT READY: {fatal_count(nodes)} fatal" in report
    assert "FATAL reachable: unreachable as lab@192.168.2.23:22: timeout" in report


def test_member_nodes_may_hold_their_ports_and_swap_on_a_member_is_fatal() -> None:
    text = UBUNTU.replace("member=0", "member=1")
    cp = _node("cp01", "192.168.2.11", text, "control-plane")
    new = _node("cp01", "192.168.2.11", UBUNTU, "control-plane")
    evaluate([cp])
    evaluate([new])
    sev = {f.check: f.severity for f in cp.findings}
    # A member's prepare step ran already: nothing turns its swap off before the kubelet restarts.
    assert sev["ports"] == "ok" and sev["swap"] == "fatal"
    assert {f.check: f.severity for f in new.findings}["swap"] == "warn"  # a new node's prepare turns it off


def test_clock_skew_counts_only_outside_the_round_trip() -> None:
    f = Facts(time=100.0)
    assert clock_skew(f, 99.0, 101.0) == 0.0
    assert clock_skew(f, 103.0, 104.0) == pytest.approx(-3.0)
    assert clock_skew(f, 90.0, 95.0) == pytest.approx(5.0)
    assert clock_skew(Facts(), 0, 1) is None


def test_cgroup_v1_is_a_warning() -> None:
    n = _node("cp01", "192.168.2.11", UBUNTU.replace("cgroup2fs", "tmpfs"), "control-plane")
    evaluate([n])
    cg = next(f for f in n.findings if f.check == "cgroup")
    assert cg.severity == "warn" and "v1" in cg.message


def test_host_key_pins() -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJtestkey"
    same = _node("a", "192.168.2.11", UBUNTU, host_key_seen=key, host_key_pinned=key + " comment")
    other = _node("b", "192.168.2.11", UBUNTU, host_key_seen=key, host_key_pinned="ssh-ed25519 AAAAother")
    unpinned = _node("c", "192.168.2.11", UBUNTU, host_key_seen=key)
    for n in (same, other, unpinned):
        evaluate([n])
    assert [(f.severity) for f in same.findings if f.check == "host-key"] == ["ok"]
    assert [(f.severity) for f in other.findings if f.check == "host-key"] == ["fatal"]
    assert [(f.severity) for f in unpinned.findings if f.check == "host-key"] == ["warn"]
    assert f"host key: {key}" in format_report("dev", [unpinned], 0.1)


STACK = """# dev: one control plane and one worker
config:
  homelab:ssh:
    user: lab  # the login user
    privateKeyPath: ~/.ssh/id_ed25519
  homelab:nodes:
    - {name: cp01, address: 192.168.2.11, role: control-plane}
    - name: worker01
      address: 192.168.2.21
      ssh: {user: other}
    - {name: worker02, address: 192.168.2.22, ssh: {hostKey: ssh-ed25519 AAAAold}}
"""


def test_pinning_keeps_comments_and_never_replaces_a_different_pin() -> None:
    pins = {"cp01": "ssh-ed25519 AAAAcp", "worker01": "ssh-ed25519 AAAAw1", "worker02": "ssh-ed25519 AAAAnew"}
    text, notes = pin_host_keys_text(STACK, pins)
    assert text.startswith("# dev: one control plane and one worker\n")
    assert "user: lab  # the login user" in text
    doc = yaml.safe_load(text)["config"]["homelab:nodes"]
    assert doc[0]["ssh"] == {"hostKey": "ssh-ed25519 AAAAcp"}
    assert doc[1]["ssh"] == {"user": "other", "hostKey": "ssh-ed25519 AAAAw1"}
    assert doc[2]["ssh"] == {"hostKey": "ssh-ed25519 AAAAold"}
    assert notes == [
        "homelab:nodes[0].ssh.hostKey (cp01): ssh-ed25519 AAAAcp",
        "homelab:nodes[1].ssh.hostKey (worker01): ssh-ed25519 AAAAw1",
        "homelab:nodes[2].ssh.hostKey: NOT changed: the stack pins another key than the host shows",
    ]
    assert "- {name: cp01, address: 192.168.2.11, role: control-plane, ssh: {hostKey: ssh-ed25519 AAAAcp}}" in text
    again, notes2 = pin_host_keys_text(text, {"cp01": "ssh-ed25519 AAAAcp"})
    assert again == text and notes2 == []
