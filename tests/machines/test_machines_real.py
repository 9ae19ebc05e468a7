"""Real local machines: boot, sshd with a pinned key, isolation, idempotent up, clean down."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.machines.conftest import skip_unless_machines_can_run
from tests.machines.local import LocalLab
from tools.machine_files import KUBELET_SYSCTLS
from tools.nspawn import cgroup_hierarchies

pytestmark = pytest.mark.machines


def test_three_machines_with_roles(clean_machines: LocalLab) -> None:
    assert [(m.name, m.role) for m in clean_machines.machines][:3] == [
        ("cp01", "control-plane"), ("cp02", "control-plane"), ("worker01", "worker")]  # fmt: skip
    addresses = [m.address for m in clean_machines.machines]
    assert len(set(addresses)) == len(addresses)


def test_each_machine_boots_systemd_with_its_own_name_and_address(clean_machines: LocalLab) -> None:
    gateway = clean_machines.gateway
    for m in clean_machines.machines:
        res = m.ssh(
            "hostname; ip -4 -o addr show dev eth0; ip route show default; "
            "systemctl is-system-running; systemctl is-active containerd ssh homelab-machine-setup"
        )
        assert res.returncode in (0, 1), res.stderr  # is-system-running exits 1 when degraded
        lines = res.stdout.splitlines()
        assert lines[0] == m.name
        assert f"inet {m.address}/" in lines[1]
        assert lines[2].startswith(f"default via {gateway} dev eth0")
        if lines[3] != "running":
            failed = m.ssh("systemctl --failed --no-legend --plain").stdout
            pytest.fail(f"{m.name}: systemd is {lines[3]}; failed units:\n{failed}")
        assert lines[4:] == ["active", "active", "active"]


def test_machines_are_ready_for_runc_and_the_kubelet(clean_machines: LocalLab) -> None:
    """What the boot-time unit fixes: writable cgroup controllers, /dev/kmsg, the kubelet's sysctls."""
    m = clean_machines.machines[0]
    res = m.ssh(
        "set -e; for c in memory cpu pids cpuset; do mkdir /sys/fs/cgroup/$c/homelab-test; "
        "rmdir /sys/fs/cgroup/$c/homelab-test; done; test -e /dev/kmsg; echo ok"
    )
    assert res.stdout.strip() == "ok", res.stderr
    # the kubelet finds its kernel-wide values and writes nothing; the host keeps its own
    host = {k: Path("/proc/sys", k).read_text().strip() for k in KUBELET_SYSCTLS}
    inside = m.ssh("; ".join(f"cat /proc/sys/{k}" for k in KUBELET_SYSCTLS)).stdout.split()
    assert inside == [str(v) for v in KUBELET_SYSCTLS.values()]
    assert m.ssh("echo 0 > /proc/sys/kernel/panic_on_oops").returncode != 0
    assert {k: Path("/proc/sys", k).read_text().strip() for k in KUBELET_SYSCTLS} == host
    # per-network-namespace keys are the machine's own (the prepare script sets them)
    res = m.ssh("sysctl -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1")
    assert res.returncode == 0, res.stderr


def test_sshd_host_key_is_pinned(clean_machines: LocalLab, tmp_path: Path) -> None:
    a, b = clean_machines.machines[:2]
    # the right key is accepted (every other test relies on it) ...
    assert a.ssh("true").returncode == 0
    # ... and another machine's key for this address is refused
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{a.address} {b.host_key}\n")
    argv = a.ssh_argv("true")
    argv[argv.index(f"UserKnownHostsFile={a.known_hosts_path}")] = f"UserKnownHostsFile={wrong}"
    res = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert res.returncode == 255 and "host key" in res.stderr.lower(), res.stderr


def test_machines_are_isolated(clean_machines: LocalLab) -> None:
    seen: dict[str, set[str]] = {"hostname": set(), "machine-id": set(), "host key": set(), "boot": set()}
    for m in clean_machines.machines:
        out = m.ssh("hostname; cat /etc/machine-id; cut -d' ' -f1-2 /etc/ssh/ssh_host_ed25519_key.pub; "
                    "cat /proc/sys/kernel/random/boot_id").stdout.split("\n")  # fmt: skip
        assert out[2] == m.host_key  # the key sshd serves is the one pinned in the stack
        for key, value in zip(seen, out[:4], strict=True):
            seen[key].add(value)
        # air-gapped: no Debian source; only the lab's own mirror is ever added
        # (other tests of the session may have prepared the machine: its kubernetes.list is fine)
        assert m.ssh("cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources "
                     "$(ls /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v /kubernetes.list) "
                     "2>/dev/null | grep -c deb || true").stdout.strip() == "0"  # fmt: skip
    n = len(clean_machines.machines)
    for key in ("hostname", "machine-id", "host key"):
        assert len(seen[key]) == n, f"{key} shared between machines: {seen[key]}"


def test_stack_file_describes_the_machines(clean_machines: LocalLab) -> None:
    config = yaml.safe_load(clean_machines.stack_file.read_text())["config"]
    nodes = config["homelab:nodes"]
    assert [(n["name"], n["address"], n["role"], n["ssh"]["hostKey"]) for n in nodes] == [
        (m.name, m.address, m.role, m.host_key) for m in clean_machines.machines
    ]
    assert config["homelab:lan"]["gateway"] == clean_machines.gateway
    assert config["homelab:ssh"] == {"user": "root", "privateKeyPath": str(clean_machines.machines[0].private_key_path)}
    assert oct(clean_machines.machines[0].private_key_path.stat().st_mode & 0o777) == "0o600"


def test_up_again_leaves_running_machines_alone(clean_machines: LocalLab) -> None:
    before = {m["name"]: m["nspawn_pid"] for m in clean_machines.state()["machines"]}  # type: ignore[attr-defined]
    boot = {m.name: m.ssh("cat /proc/sys/kernel/random/boot_id").stdout for m in clean_machines.machines}
    res = clean_machines.up(len(before))
    assert res.stdout.count("is running (left alone)") == len(before)
    after = {m["name"]: m["nspawn_pid"] for m in clean_machines.state()["machines"]}  # type: ignore[attr-defined]
    assert after == before
    assert boot == {m.name: m.ssh("cat /proc/sys/kernel/random/boot_id").stdout for m in clean_machines.machines}


def _host_leftovers(bridge: str, state_dir: Path) -> list[str]:
    """Bridge, veths, namespaces, cgroups, mounts and processes of `bridge`'s lab on this host."""
    from tools.machines import leftovers

    found = leftovers(bridge, state_dir)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "systemd-nspawn" in argv and str(state_dir) in argv:
            found.append(f"process {pid}: {argv[:120]}")
    return found


def test_grow_then_down_leaves_nothing() -> None:
    """A lab of its own (another bridge): one machine, grown to two, then removed."""
    skip_unless_machines_can_run()
    with tempfile.TemporaryDirectory(prefix="homelab-machines-") as tmp:
        lab = LocalLab(state_dir=Path(tmp), bridge="hlbt1", subnet="10.253.0.0/24")
        lab.down()
        try:
            lab.up(1)
            assert [m.name for m in lab.machines] == ["cp01"]
            first_key = lab.machines[0].host_key
            lab.up(2)
            assert [(m.name, m.role) for m in lab.machines] == [("cp01", "control-plane"), ("worker01", "worker")]
            assert lab.machines[0].host_key == first_key
            assert lab.machines[1].ssh("hostname").stdout.strip() == "worker01"
            # shrinking or changing roles is refused, and touches nothing
            res = lab.cli("up", "--nodes", "1", "--bridge", "hlbt1", "--stack-file", str(lab.stack_file))
            assert res.returncode == 2 and "worker01 exists but is not in the plan" in res.stderr
            assert lab.machines[1].ssh("true").returncode == 0
            assert _host_leftovers("hlbt1", lab.state_dir)  # sanity: the check sees a live lab
        finally:
            res = lab.down()
        assert res.returncode == 0, res.stderr
        assert _host_leftovers("hlbt1", lab.state_dir) == []
        assert not lab.stack_file.exists()
        # what stays in the state dir: the client key (and the image log if it built the image)
        assert {p.name for p in lab.state_dir.iterdir()} <= {".lock", "id_ed25519", "id_ed25519.pub", "image-build.log"}


def _built_kubelet() -> Path | None:
    if env := os.environ.get("HOMELAB_KUBELET"):  # as `scripts/toolchain --print-env` names it
        return Path(env) if Path(env).is_file() else None
    root = Path(os.environ.get("HOMELAB_TOOLCHAIN_DIR", Path.home() / ".cache/homelab/toolchain"))
    try:
        data = json.loads((root / "manifest.json").read_text())
        path = Path(data["items"]["kubernetes-node"]["paths"]["kubelet"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return path if path.is_file() else None


KUBELET_CONFIG = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
staticPodPath: /etc/kubernetes/manifests
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
"""


def test_kubelet_keeps_running_in_a_machine() -> None:
    """The toolchain's kubelet, standalone, with Debian's containerd, in a machine of its own lab."""
    skip_unless_machines_can_run()
    kubelet = _built_kubelet()
    if kubelet is None:
        pytest.skip("KUBELET NOT BUILT -- scripts/toolchain builds it (item kubernetes-node)")
    host_before = {k: Path("/proc/sys", k).read_text() for k in KUBELET_SYSCTLS}
    with tempfile.TemporaryDirectory(prefix="homelab-machines-") as tmp:
        lab = LocalLab(state_dir=Path(tmp), bridge="hlbt2", subnet="10.248.0.0/24")
        lab.down()
        try:
            lab.up(1)
            m = lab.machines[0]
            with kubelet.open("rb") as binary:
                copy = subprocess.run(m.ssh_argv("cat > /usr/local/bin/kubelet && chmod 0755 /usr/local/bin/kubelet"),
                                      stdin=binary, capture_output=True, timeout=120, check=False)  # fmt: skip
            assert copy.returncode == 0, copy.stderr
            # containerd with the systemd cgroup driver, as the prepare script leaves it
            res = m.ssh(
                "set -e; containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' "
                "> /etc/containerd/config.toml; systemctl restart containerd; "
                "mkdir -p /var/lib/kubelet /etc/kubernetes/manifests; cat > /var/lib/kubelet/config.yaml; "
                "systemd-run --unit=kubelet --property=Restart=always /usr/local/bin/kubelet "
                "--config=/var/lib/kubelet/config.yaml",
                input=KUBELET_CONFIG,
            )
            assert res.returncode == 0, res.stderr
            time.sleep(40)
            res = m.ssh("systemctl is-active kubelet; systemctl show kubelet -p NRestarts --value; "
                        "curl -s http://127.0.0.1:10248/healthz; echo; test -d /sys/fs/cgroup/memory/kubepods.slice "
                        "&& echo kubepods")  # fmt: skip
            log = m.ssh("journalctl -u kubelet --no-pager -o cat | grep -E '^E' | tail -n 20").stdout
            assert res.stdout.split() == ["active", "0", "ok", "kubepods"], f"{res.stdout}\n{log}"
            # the pods' cgroups are inside the machine's own subtree on the host
            assert any(h.joinpath("homelab-hlbt2/cp01/kubepods.slice").is_dir() for h in cgroup_hierarchies())
        finally:
            lab.down()
    assert {k: Path("/proc/sys", k).read_text() for k in KUBELET_SYSCTLS} == host_before
