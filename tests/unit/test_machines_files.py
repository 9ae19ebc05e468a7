"""What goes into each local machine and how it is started: texts and argv (pure)."""

from __future__ import annotations

import configparser
import ipaddress
import shutil
import subprocess
from pathlib import Path

import pytest

from tools import machine_files as mf
from tools.machine_image import PACKAGES, content_key, debootstrap_argv
from tools.machine_plan import parse_network, plan
from tools.machines import main
from tools.nspawn import MachineLayout, launcher_script, nspawn_argv, nspawn_env

NET = parse_network("hlbr0", "10.251.0.0/24")
MACHINES = plan(NET, 3)
LAYOUT = MachineLayout("cp01", "hlbr0", "10.251.0.11", 24, "10.251.0.1", Path("/state/machines/cp01"))


def test_setup_script_is_shellcheck_clean() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck; .ci/run installs it)")
    res = subprocess.run(["shellcheck", "--shell=sh", "--severity=style", "-"], input=mf.setup_script(),
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert res.returncode == 0, res.stdout


def test_setup_script_does_what_the_kubelet_needs() -> None:
    s = mf.setup_script()
    assert s.startswith("#!/bin/sh\n")
    assert "ln -s /dev/console /dev/kmsg" in s
    assert "remount,rw /proc/sys\n" not in s  # kernel-wide keys stay the host's
    assert "mount -o remount,bind,rw /proc/sys/net" in s  # the machine's own netns keys
    for key, value in mf.KUBELET_SYSCTLS.items():
        assert f"{key}={value}" in s
    assert 'umount -l "$dir"' in s and "mount -t cgroup -o" in s  # the busy memory controller
    assert "mount --make-rshared /" in s


def test_setup_unit_runs_before_containerd_and_kubelet() -> None:
    unit = configparser.ConfigParser(strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(mf.setup_unit())
    assert unit["Unit"]["DefaultDependencies"] == "no"
    assert set(unit["Unit"]["Before"].split()) >= {"containerd.service", "kubelet.service", "sysinit.target"}
    assert unit["Service"]["Type"] == "oneshot" and unit["Service"]["ExecStart"] == mf.SETUP_SCRIPT
    assert unit["Install"]["WantedBy"] == "sysinit.target"
    link, target = next(iter(mf.ENABLE_LINKS.items()))
    assert link.startswith("/etc/systemd/system/sysinit.target.wants/") and target.endswith(mf.SETUP_UNIT)


def test_files_for_a_machine() -> None:
    files = mf.files_for(MACHINES[2], MACHINES, "10.251.0.1", "ab" * 16, "ssh-ed25519 AAAAclient comment\n")
    assert files["/etc/hostname"] == ("worker01\n", 0o644)
    assert files["/etc/machine-id"][0] == "ab" * 16 + "\n"
    assert files["/root/.ssh/authorized_keys"] == ("ssh-ed25519 AAAAclient comment\n", 0o600)
    assert "10.251.0.12 cp02\n" in files["/etc/hosts"][0]
    assert "nameserver 10.251.0.1\n" in files["/etc/resolv.conf"][0]
    sshd = files["/etc/ssh/sshd_config.d/homelab.conf"][0]
    assert "PermitRootLogin prohibit-password" in sshd and "PasswordAuthentication no" in sshd
    assert files[mf.SETUP_SCRIPT][1] == 0o755
    assert not any("ssh_host_" in p for p in files)  # host keys: ssh-keygen per machine, never a template


def test_nspawn_argv_and_env() -> None:
    argv = nspawn_argv(LAYOUT)
    assert argv[0] == "systemd-nspawn"
    for flag in ("--boot", "--register=no", "--keep-unit", "--capability=all", "--machine=cp01",
                 "--directory=/state/machines/cp01/root", "--network-namespace-path=/run/netns/hlm-hlbr0-cp01",
                 "--bind=/state/machines/cp01/var-lib-containerd:/var/lib/containerd"):  # fmt: skip
        assert flag in argv
    assert nspawn_env()["SYSTEMD_SECCOMP"] == "0"
    assert LAYOUT.veth == "hlbr0v11" and len("averylongbrv99") <= 15


def test_launcher_joins_cgroups_then_mounts_then_becomes_nspawn() -> None:
    dirs = [Path("/sys/fs/cgroup/memory/homelab-hlbr0/cp01"), Path("/sys/fs/cgroup/pids/homelab-hlbr0/cp01")]
    s = launcher_script(LAYOUT, Path("/img/rootfs"), dirs)
    lines = s.splitlines()
    assert lines[0] == "set -e"
    assert lines[1] == "echo $$ > /sys/fs/cgroup/memory/homelab-hlbr0/cp01/cgroup.procs"
    assert lines[3].startswith("mount -t overlay overlay -o ") and "lowerdir=/img/rootfs," in lines[3]
    assert lines[4].startswith("exec systemd-nspawn ")
    subprocess.run(["sh", "-n"], input=s, text=True, check=True)


def test_base_image_key_and_argv() -> None:
    assert content_key() == content_key()
    assert content_key(PACKAGES + ("vim",)) != content_key()
    argv = debootstrap_argv(Path("/t"))
    assert argv[:2] == ["debootstrap", "--variant=minbase"] and "bookworm" in argv
    included = argv[2].removeprefix("--include=").split(",")
    for pkg in ("systemd", "openssh-server", "containerd", "runc", "iptables", "kmod", "conntrack", "socat", "gpg"):
        assert pkg in included


def test_cli_argument_errors_come_all_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    rc = main(["--state-dir", str(state), "up", "--nodes", "0", "--subnet", "8.8.8.0/24", "--bridge", "Bad"])
    err = capsys.readouterr().err
    assert rc == 2
    for text in ("--bridge 'Bad'", "--subnet 8.8.8.0/24: must be a private range", "--nodes 0: must be 1-89"):
        assert text in err
    assert not state.exists()  # nothing touched


def test_cli_ssh_unknown_machine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-dir", str(tmp_path), "ssh", "cp09"]) == 2
    assert "no machine named 'cp09'" in capsys.readouterr().err


def test_preflight_says_what_is_missing_and_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Uninstalling the tools to show this is not an option on a shared box: hide them instead.
    import tools.machines as machines

    real = shutil.which
    monkeypatch.setattr(machines.shutil, "which", lambda t: None if t in ("debootstrap", "systemd-nspawn") else real(t))
    monkeypatch.setattr(machines.os, "geteuid", lambda: 1000)
    problems = machines.preflight()
    assert problems[0].startswith("not root")
    assert "`debootstrap` not found: apt-get install debootstrap" in problems
    assert "`systemd-nspawn` not found: apt-get install systemd-container" in problems
    assert any("apt-get install debootstrap systemd-container" in p for p in problems)


def test_growing_keeps_the_control_planes_there_are(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from tools.machines import LabState, MachineRecord, plan_up

    for var in ("HOMELAB_MACHINES_BRIDGE", "HOMELAB_MACHINES_SUBNET"):
        monkeypatch.delenv(var, raising=False)
    state = LabState("hlbr0", "10.251.0.0/24", machines=[
        MachineRecord("cp01", "control-plane", "10.251.0.11", "k1", "m1"),
        MachineRecord("worker01", "worker", "10.251.0.12", "k2", "m2"),
    ])  # fmt: skip
    args = argparse.Namespace(nodes=3, control_planes=None, bridge=None, subnet=None)
    _net, wanted, to_add = plan_up(args, state)
    assert [(m.name, m.address) for m in to_add] == [("worker02", "10.251.0.13")]
    assert len(wanted) == 3
    with pytest.raises(Exception, match="worker01 exists as worker 10.251.0.12, the plan has"):
        plan_up(argparse.Namespace(nodes=3, control_planes=2, bridge=None, subnet=None), state)
    with pytest.raises(Exception, match="are on hlbr0 10.251.0.0/24, not hlbr1"):
        plan_up(argparse.Namespace(nodes=3, control_planes=None, bridge="hlbr1", subnet=None), state)


def test_cli_refuses_a_subnet_the_host_routes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tools.machines import host_routes

    nets = [dst for dst, _dev in host_routes() if "/" in dst and dst != "default"]
    private = [n for n in nets if ipaddress.IPv4Network(n).is_private and ipaddress.IPv4Network(n).prefixlen <= 24]
    if not private:
        pytest.skip("this host has no private /24-or-larger route to collide with")
    state = tmp_path / "state"
    assert main(["--state-dir", str(state), "up", "--subnet", private[0], "--bridge", "hlzz0"]) == 2
    assert f"--subnet {private[0]} overlaps routes this host already has" in capsys.readouterr().err
    assert not state.exists()
