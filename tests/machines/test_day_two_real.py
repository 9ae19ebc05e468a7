"""Day two on a real kubeadm cluster (three local machines): snapshots, restore, expiry,
`scripts/lab check`, `scripts/lab renew-certs`.

The cluster is made as in test_cluster_real.py (the program's host scripts through
tools.hostrun, the air-gap mirror), with `homelab:backup` on. Scenarios, in order:
the snapshot timer is on every control plane; the service takes a snapshot that the
toolchain's etcdutl accepts, and prunes to `keep`; `scripts/lab backup` takes one now and
says where; that snapshot, restored as docs/day-two.md says into a new data directory,
holds a ConfigMap made with kubectl, and so does the cluster after the documented restore
in place on both control planes; the `certificateExpiry` output lists kubeadm's
certificates; `scripts/lab check` passes on the healthy machines and finds a swap and a
cloned product_uuid injected into them, and a LAN interface missing from all of them;
`scripts/lab renew-certs` renews the certificates and the API servers serve the new ones.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from components.cluster.cert_expiry import parse_check_expiration
from tests.machines.cluster import Kube, etcd_members, lab_config, served_mirror, write_stack_file
from tests.machines.conftest import require_cluster_tools
from tests.machines.local import LocalLab, LocalMachine
from tools.check import main as check_main
from tools.etcd_backup import main as backup_main
from tools.hostrun import run_stack
from tools.renew_certs import main as renew_main

pytestmark = pytest.mark.machines

BACKUP_DIR = "/var/backups/homelab-etcd"
KEEP = 2
UNIT = "homelab-etcd-snapshot"
SNAPSHOT_NAME = re.compile(r"^etcd-(?P<node>[\w-]+)-\d{8}T\d{6}Z\.db$")


@dataclass
class DayTwo:
    lab: LocalLab
    config: dict[str, Any]
    stack_file: Path
    outputs: dict[str, Any]
    kube: Kube
    tools: dict[str, Path]
    work: Path
    notes: dict[str, Any] = field(default_factory=dict)  # what one test leaves for the next


def sh(machine: LocalMachine, script: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`bash -c script` on the machine (ssh joins its argv with spaces: quote it whole)."""
    return machine.ssh(shlex.join(["bash", "-c", script]), timeout=timeout)


def ok(machine: LocalMachine, script: str, timeout: float = 120) -> str:
    res = sh(machine, script, timeout)
    assert res.returncode == 0, f"{machine.name}: `{script}` exited {res.returncode}: {res.stderr[-2000:]}"
    return res.stdout


def fetch(machine: LocalMachine, path: str, dest: Path) -> Path:
    """A file from the machine, byte for byte (snapshots are binary)."""
    dest.touch(mode=0o600)
    with dest.open("wb") as fh:
        res = subprocess.run(machine.ssh_argv(shlex.join(["cat", path])), stdout=fh, stderr=subprocess.PIPE,
                             timeout=120, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    return dest


def snapshots(machine: LocalMachine) -> list[str]:
    out = ok(machine, f"ls -1 {BACKUP_DIR} 2>/dev/null || true")
    return sorted(n for n in out.split() if SNAPSHOT_NAME.match(n))


@pytest.fixture(scope="module")
def day_two(clean_machines: LocalLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DayTwo]:
    tc, kubectl = require_cluster_tools(
        "etcd", "etcdctl", "etcdutl", "crictl", build="scripts/toolchain --only cri-tools,etcd-tools"
    )
    work = tmp_path_factory.mktemp("day-two")
    work.chmod(0o700)
    with served_mirror(work, clean_machines) as mirror:
        config = lab_config(clean_machines, mirror)
        config["homelab:backup"] = {"schedule": "hourly", "directory": BACKUP_DIR, "keep": KEEP}
        result = run_stack(config, [], work / "hostrun.json")
        stack_file = write_stack_file(work, config)
        yield DayTwo(clean_machines, config, stack_file, result.outputs, Kube(result.outputs["kubeconfig"], kubectl),
                     tc.binaries, work)  # fmt: skip


# --- etcd snapshots ---------------------------------------------------------------------


def test_snapshot_timer_on_every_control_plane(day_two: DayTwo) -> None:
    for name in ("cp01", "cp02"):
        m = day_two.lab.by_name(name)
        assert ok(m, f"systemctl is-enabled {UNIT}.timer").strip() == "enabled"
        assert ok(m, f"systemctl is-active {UNIT}.timer").strip() == "active"
        assert "OnCalendar=hourly" in ok(m, f"cat /etc/systemd/system/{UNIT}.timer")
    worker = day_two.lab.by_name("worker01")
    assert sh(worker, f"test -e /etc/systemd/system/{UNIT}.timer").returncode != 0


def test_snapshot_service_takes_a_checked_snapshot_and_prunes(day_two: DayTwo) -> None:
    cp02 = day_two.lab.by_name("cp02")
    taken: list[str] = []
    for _ in range(KEEP + 1):
        res = sh(cp02, f"systemctl start {UNIT}.service", timeout=300)
        journal = ok(cp02, f"journalctl -u {UNIT}.service --no-pager -n 40 -o cat")
        assert res.returncode == 0, f"the snapshot service failed on cp02:\n{journal}"
        taken.append(snapshots(cp02)[-1])
        time.sleep(1.1)  # names have one-second resolution
    assert len(set(taken)) == KEEP + 1, taken
    kept = snapshots(cp02)
    assert kept == taken[-KEEP:], f"pruning kept {kept}, expected the newest {KEEP} of {taken}"
    assert all(SNAPSHOT_NAME.match(n).group("node") == "cp02" for n in kept)  # type: ignore[union-attr]
    assert f"pruned {BACKUP_DIR}/{taken[0]}" in ok(cp02, f"journalctl -u {UNIT}.service --no-pager -o cat")
    mode = ok(cp02, f"stat -c %a {BACKUP_DIR}/{kept[-1]} {BACKUP_DIR}").split()
    assert mode == ["600", "700"], mode  # a snapshot holds every Secret
    # The toolchain's etcdutl (same release as the cluster's etcd) reads it back.
    local = fetch(cp02, f"{BACKUP_DIR}/{kept[-1]}", day_two.work / kept[-1])
    status = subprocess.run([str(day_two.tools["etcdutl"]), "snapshot", "status", str(local), "-w", "json"],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    assert doc["totalKey"] > 100 and doc["revision"] > 100, doc  # a real cluster's keys


def test_backup_now_prints_where_and_restore_shows_the_objects(
    day_two: DayTwo, capsys: pytest.CaptureFixture[str]
) -> None:
    res = day_two.kube.run("create", "configmap", "day-two-restore", "--from-literal=proof=restored")
    assert res.returncode == 0, res.stderr
    uid = day_two.kube.json("get", "configmap", "day-two-restore")["metadata"]["uid"]

    capsys.readouterr()
    assert backup_main(["local", "--stack-file", str(day_two.stack_file)]) == 0
    out = capsys.readouterr().out
    where = out.strip().splitlines()[-1]
    node, _, path = where.partition(":")
    assert node == "cp01" and path.startswith(f"{BACKUP_DIR}/etcd-cp01-"), out
    cp01 = day_two.lab.by_name("cp01")
    assert ok(cp01, f"stat -c %s {shlex.quote(path)}").strip().isdigit()
    day_two.notes["snapshot"] = (path, uid)

    # docs/day-two.md, restore step 1: etcdutl copied out of the running etcd container.
    status = ok(cp01, "cp /proc/$(pgrep -xo etcd)/root/usr/local/bin/etcdutl /usr/local/sbin/etcdutl && "
                      f"/usr/local/sbin/etcdutl snapshot status {shlex.quote(path)} -w json")  # fmt: skip
    assert json.loads(status)["totalKey"] > 100

    # Step 3 into a new data directory here, then etcd on it (loopback, no TLS).
    snap = fetch(cp01, path, day_two.work / "restore.db")
    data = day_two.work / "restored-etcd"
    peer, client = free_port(), free_port()
    restore = subprocess.run(
        [str(day_two.tools["etcdutl"]), "snapshot", "restore", str(snap), "--data-dir", str(data),
         "--name", "restore", "--initial-cluster", f"restore=http://127.0.0.1:{peer}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster-token", "homelab-restore-test", "--bump-revision", "1000000000", "--mark-compacted"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert restore.returncode == 0, restore.stderr
    log = (day_two.work / "restored-etcd.log").open("w")
    etcd = subprocess.Popen(
        [str(day_two.tools["etcd"]), "--name", "restore", "--data-dir", str(data),
         "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
         "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster", f"restore=http://127.0.0.1:{peer}", "--listen-metrics-urls=", "--log-level=warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        ctl = [str(day_two.tools["etcdctl"]), f"--endpoints=http://127.0.0.1:{client}", "--command-timeout=5s"]
        deadline = time.monotonic() + 60
        while subprocess.run([*ctl, "endpoint", "health"], capture_output=True, check=False).returncode != 0:
            assert etcd.poll() is None and time.monotonic() < deadline, "restored etcd did not start"
            time.sleep(0.5)
        keys = subprocess.run([*ctl, "get", "--prefix", "/registry/configmaps/default/", "--keys-only"],
                              capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
        assert "/registry/configmaps/default/day-two-restore" in keys, keys
        value = subprocess.run([*ctl, "get", "/registry/configmaps/default/day-two-restore", "--print-value-only"],
                               capture_output=True, check=True).stdout  # fmt: skip
        # Stored as protobuf: the uid and the data appear as plain bytes.
        assert uid.encode() in value and b"restored" in value
        nodes = subprocess.run([*ctl, "get", "--prefix", "/registry/minions/", "--keys-only"],
                               capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
        assert sorted(k.rsplit("/", 1)[1] for k in nodes) == ["cp01", "cp02", "worker01"]
    finally:
        etcd.terminate()
        etcd.wait(timeout=30)
        log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


RESTORE_STEP_2 = """mkdir -p /etc/kubernetes/manifests.stopped
mv /etc/kubernetes/manifests/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler}.yaml \\
   /etc/kubernetes/manifests.stopped/
while crictl ps -q --name '^(etcd|kube-apiserver)$' 2>/dev/null | grep -q .; do sleep 2; done
"""
RESTORE_STEP_4 = """mv /etc/kubernetes/manifests.stopped/*.yaml /etc/kubernetes/manifests/
export KUBECONFIG=/etc/kubernetes/admin.conf
for _ in $(seq 100); do kubectl get --raw /readyz >/dev/null 2>&1 && break; sleep 3; done
kubectl get --raw /readyz
"""


def test_restore_in_place_as_documented(day_two: DayTwo) -> None:
    """docs/day-two.md's restore, steps 1-5, on both control planes of the running cluster."""
    assert "snapshot" in day_two.notes, "needs the snapshot of the previous test"
    path, uid = day_two.notes["snapshot"]
    cps = {name: day_two.lab.by_name(name) for name in ("cp01", "cp02")}
    assert day_two.kube.run("delete", "configmap", "day-two-restore").returncode == 0
    made_after = day_two.kube.run("create", "configmap", "made-after-the-snapshot", "--from-literal=a=b")
    assert made_after.returncode == 0, made_after.stderr
    # Step 1: the snapshot on every control plane, etcdutl copied out of the running etcd.
    copy = fetch(cps["cp01"], path, day_two.work / "in-place.db")
    put = subprocess.run(cps["cp02"].ssh_argv(shlex.join(["bash", "-c", f"umask 077; cat > {shlex.quote(path)}"])),
                         stdin=copy.open("rb"), capture_output=True, timeout=60, check=False)  # fmt: skip
    assert put.returncode == 0, put.stderr
    for m in cps.values():
        ok(m, "cp /proc/$(pgrep -xo etcd)/root/usr/local/bin/etcdutl /usr/local/sbin/etcdutl && "
              f"/usr/local/sbin/etcdutl snapshot status {shlex.quote(path)} -w table")  # fmt: skip
    t0 = time.monotonic()
    with ThreadPoolExecutor(len(cps)) as pool:
        # Step 2 on every control plane.
        list(pool.map(lambda m: ok(m, RESTORE_STEP_2, timeout=300), cps.values()))
        # Step 3: the snapshot into a fresh data directory, the old one kept.
        cluster = ",".join(f"{m.name}=https://{m.address}:2380" for m in cps.values())
        for m in cps.values():
            restore = [
                "/usr/local/sbin/etcdutl", "snapshot", "restore", path, "--data-dir", "/var/lib/etcd",
                "--name", m.name, "--initial-cluster", cluster,
                "--initial-advertise-peer-urls", f"https://{m.address}:2380",
                "--initial-cluster-token", "homelab-restore-test", "--bump-revision", "1000000000", "--mark-compacted",
            ]  # fmt: skip
            ok(m, f"mv /var/lib/etcd /var/lib/etcd.before-restore && {shlex.join(restore)}")
        # Step 4 on every control plane at once: etcd needs its quorum before any API server is ready.
        list(pool.map(lambda m: ok(m, RESTORE_STEP_4, timeout=400), cps.values()))
    day_two.notes["restore seconds (steps 2-4)"] = round(time.monotonic() - t0, 1)
    # Step 5.
    for name in ("cp01", "cp02", "worker01"):
        ok(day_two.lab.by_name(name), "systemctl restart kubelet")
    restored = day_two.kube.json("get", "configmap", "day-two-restore")
    assert restored["metadata"]["uid"] == uid and restored["data"] == {"proof": "restored"}
    gone = day_two.kube.run("get", "configmap", "made-after-the-snapshot")
    assert gone.returncode != 0 and "NotFound" in gone.stderr, gone.stdout
    assert sorted(m["name"] for m in etcd_members(cps["cp01"])) == ["cp01", "cp02"]
    assert day_two.kube.node_names() == ["cp01", "cp02", "worker01"]
    print(f"in-place restore, steps 2-4: {day_two.notes['restore seconds (steps 2-4)']} s")
    for m in cps.values():
        ok(m, "rm -rf /var/lib/etcd.before-restore /etc/kubernetes/manifests.stopped")


# --- certificate expiry -----------------------------------------------------------------


def test_certificate_expiry_output_lists_kubeadms_certificates(day_two: DayTwo) -> None:
    report = day_two.outputs["certificateExpiry"]["kubeadm"]
    assert sorted(report) == ["cp01", "cp02"]
    now = datetime.now(UTC)
    for node, certs in report.items():
        by_name = {c["name"]: c for c in certs}
        leaves = {n for n, c in by_name.items() if not c["authority"]}
        cas = {n for n, c in by_name.items() if c["authority"]}
        expected = {"apiserver", "apiserver-kubelet-client", "etcd-server", "etcd-peer", "front-proxy-client",
                    "admin.conf", "controller-manager.conf", "scheduler.conf", "super-admin.conf"}  # fmt: skip
        assert expected <= leaves, (node, sorted(leaves))
        assert cas == {"ca", "etcd-ca", "front-proxy-ca"}, (node, sorted(cas))
        # super-admin.conf exists on the first control plane only (kubeadm init writes it).
        assert (by_name["super-admin.conf"]["expires"] is None) == (node != "cp01"), by_name["super-admin.conf"]
        for name in leaves - {"super-admin.conf"} if node != "cp01" else leaves:
            left = datetime.fromisoformat(by_name[name]["expires"].replace("Z", "+00:00")) - now
            assert timedelta(days=364) < left <= timedelta(days=365), (node, name, left)
        for name in cas:
            left = datetime.fromisoformat(by_name[name]["expires"].replace("Z", "+00:00")) - now
            assert timedelta(days=3640) < left <= timedelta(days=3651), (node, name, left)


# --- scripts/lab check --------------------------------------------------------------------


def run_check(day_two: DayTwo, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = check_main(["local", "--stack-file", str(day_two.stack_file)])
    return code, capsys.readouterr().out


def node_section(report: str, node: str) -> str:
    """The report's lines for one node (up to the next node's header)."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{node} "))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return "\n".join(lines[start:end])


def test_check_passes_on_the_healthy_machines(day_two: DayTwo, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_check(day_two, capsys)
    print(report)  # which warnings the real machines give (shown with -s)
    assert code == 0 and "FATAL" not in report, report
    assert report.strip().splitlines()[-1].startswith("ready: 0 fatal")
    for node in ("cp01", "cp02", "worker01"):
        section = node_section(report, node)
        assert "member" in section.splitlines()[0], section
        assert "product_uuid" in section and "swap" in section, section


@pytest.fixture
def fake_swap(day_two: DayTwo) -> Iterator[LocalMachine]:
    """A swap file in cp02's /proc/swaps (a bind mount over it, inside that machine only)."""
    cp02 = day_two.lab.by_name("cp02")
    ok(cp02, "printf 'Filename\\tType\\tSize\\tUsed\\tPriority\\n/swapfile file 1048572 0 -2\\n' "
             "> /run/homelab-test-swaps && mount --bind /run/homelab-test-swaps /proc/swaps")  # fmt: skip
    try:
        yield cp02
    finally:
        ok(cp02, "umount /proc/swaps && rm -f /run/homelab-test-swaps")


def test_check_finds_swap(day_two: DayTwo, fake_swap: LocalMachine, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_check(day_two, capsys)
    section = node_section(report, "cp02")
    # A member: its prepare step ran already, so nothing turns the swap off before the kubelet restarts.
    assert "FATAL swap: swap is on (/swapfile) on a member" in section, report
    assert code == 1, report
    for other in ("cp01", "worker01"):
        assert "swap is on" not in node_section(report, other), report


# This box has no DMI (no /sys/class/dmi), so no machine has a product_uuid: give two of
# them the same one. /sys/class becomes a tmpfs holding bind mounts of every real class
# (the probe reads /sys/class/net too) plus dmi/id/product_uuid; inside that machine only.
FAKE_DMI = """set -e
F=/run/homelab-test-class
mkdir -p $F
mount -t tmpfs -o mode=0755,size=1m homelab-test-class $F
for d in /sys/class/*; do mkdir "$F/${d##*/}"; mount --bind "$d" "$F/${d##*/}"; done
mkdir -p $F/dmi/id
echo "$1" > $F/dmi/id/product_uuid
mount --rbind $F /sys/class
"""
UNDO_FAKE_DMI = "umount -R /sys/class && umount -R /run/homelab-test-class && rmdir /run/homelab-test-class"


@pytest.fixture
def cloned_uuid(day_two: DayTwo) -> Iterator[str]:
    """cp01 and worker01 show the same product_uuid, as a cloned VM would."""
    uuid = "4c4c4544-0042-3010-8057-b4c04f4a4e32"
    clones = [day_two.lab.by_name("cp01"), day_two.lab.by_name("worker01")]
    done: list[LocalMachine] = []
    try:
        for m in clones:
            res = m.ssh(shlex.join(["bash", "-c", FAKE_DMI, "fake-dmi", uuid]))
            assert res.returncode == 0, res.stderr
            done.append(m)
            assert ok(m, "cat /sys/class/dmi/id/product_uuid").strip() == uuid
            assert ok(m, "ls /sys/class/net").split()  # the real classes are still there
        yield uuid
    finally:
        for m in done:
            ok(m, UNDO_FAKE_DMI)


def test_check_finds_a_cloned_product_uuid(
    day_two: DayTwo, cloned_uuid: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = run_check(day_two, capsys)
    assert code == 1, report
    assert f"FATAL product_uuid: {cloned_uuid} is also worker01's" in node_section(report, "cp01"), report
    assert f"FATAL product_uuid: {cloned_uuid} is also cp01's" in node_section(report, "worker01"), report
    assert "FATAL" not in node_section(report, "cp02"), report


def test_check_finds_a_missing_lan_interface(day_two: DayTwo, capsys: pytest.CaptureFixture[str]) -> None:
    """The LAN attachment names an interface: eth0 exists on every machine, lan9 on none."""
    lan = day_two.config["homelab:lan"]
    prefix = lan["cidr"].rsplit(".", 1)[0]
    reports = {}
    for iface in ("eth0", "lan9"):
        config = dict(day_two.config)
        attachment = {
            "enabled": True,
            "interface": iface,
            "range": f"{prefix}.224-{prefix}.239",
            "namespaces": ["home"],
        }
        config["homelab:network"] = {**config.get("homelab:network", {}), "lanAttachment": attachment}
        stack = write_stack_file(day_two.work / f"lan-{iface}", config)
        capsys.readouterr()
        code = check_main(["local", "--stack-file", str(stack)])
        reports[iface] = (code, capsys.readouterr().out)
    code, report = reports["eth0"]
    assert code == 0 and "FATAL" not in report, report
    code, report = reports["lan9"]
    assert code == 1, report
    for node in ("cp01", "cp02", "worker01"):
        assert "FATAL lan-interface: homelab:network.lanAttachment.interface 'lan9' does not exist here " in (
            node_section(report, node)
        ), report


# --- scripts/lab renew-certs (last: it restarts the control planes) --------------------------


def served_certificate(address: str, ca_pem: str) -> dict[str, Any]:
    """The API server's certificate, from a verifying TLS handshake."""
    ctx = ssl.create_default_context(cadata=ca_pem)
    with socket.create_connection((address, 6443), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=address) as tls:
            cert: dict[str, Any] = tls.getpeercert() or {}
            return cert


def test_renew_certs_renews_and_the_apiservers_serve_the_new_certificates(day_two: DayTwo) -> None:
    ca = day_two.kube.ca_pem
    cps = [day_two.lab.by_name(n) for n in ("cp01", "cp02")]
    before = {m.name: served_certificate(m.address, ca) for m in cps}
    expiry_before = {m.name: expiry_by_name(m) for m in cps}
    time.sleep(2)  # notAfter has one-second resolution
    assert renew_main(["local", "--stack-file", str(day_two.stack_file)]) == 0
    for m in cps:
        after = expiry_by_name(m)
        for name, when in expiry_before[m.name].items():
            if name in ("ca", "etcd-ca", "front-proxy-ca"):
                assert after[name] == when, (m.name, name)  # CAs are not renewed
            else:
                assert after[name] > when, (m.name, name, when, after[name])
        served = served_certificate(m.address, ca)
        assert served["serialNumber"] != before[m.name]["serialNumber"], m.name
        assert ssl.cert_time_to_seconds(served["notAfter"]) > ssl.cert_time_to_seconds(before[m.name]["notAfter"])
    # The cluster works afterwards, with the program's (older, still valid) admin kubeconfig.
    assert day_two.kube.node_names() == ["cp01", "cp02", "worker01"]


def expiry_by_name(machine: LocalMachine) -> dict[str, datetime]:
    """What the real kubeadm reports on the machine, read by the program's own parser."""
    out = ok(machine, "KUBECONFIG=/etc/kubernetes/admin.conf kubeadm certs check-expiration -o json 2>/dev/null")
    return {c.name: c.expires for c in parse_check_expiration(out) if c.expires is not None}
