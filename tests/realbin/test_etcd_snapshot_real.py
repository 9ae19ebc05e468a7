"""etcd snapshots with the real etcd 3.6: the rendered script saves, checks and prunes;
the restore of docs/day-two.md brings the objects back in a new etcd.

The script is the one the timer runs (components/cluster/backup.py), rendered with
`tools="host"` and this test's paths: etcdctl/etcdutl from PATH instead of the etcd
container, the kubeadm-made PKI in a temp dir, etcd on a loopback port.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.cluster.backup import EtcdBackup, snapshot_script
from tools.etcd_backup import snapshot_location

from .binaries import free_port, require_tool
from .etcd_tls import TlsEtcd, make_pki, object_value, put_objects, start_etcd, wait_healthy

pytestmark = pytest.mark.realbin
OBJECTS = 300


@pytest.fixture(scope="module")
def tools() -> dict[str, Path]:
    return {k: require_tool(k) for k in ("etcd", "etcdctl", "etcdutl", "kubeadm")}


@pytest.fixture(scope="module")
def live(tools: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsEtcd]:
    work = tmp_path_factory.mktemp("etcd-live")
    pki = make_pki(tools["kubeadm"], work / "pki")
    server = start_etcd(tools["etcd"], pki, work / "data")
    try:
        wait_healthy(server, tools["etcdctl"])
        put_objects(server, tools["etcdctl"], OBJECTS)
        yield server
    finally:
        server.stop()


def _run_snapshot(
    tools: dict[str, Path], server: TlsEtcd, directory: Path, keep: int, timeout_s: int = 120
) -> subprocess.CompletedProcess[str]:
    script = snapshot_script(
        # model_construct: the stack refuses a directory under /tmp; this test needs one.
        EtcdBackup.model_construct(directory=str(directory), keep=keep),
        "cp01",
        tools="host",
        pki_dir=str(server.pki),
        endpoint=server.endpoint,
        lock_file=str(directory.parent / "snapshot.lock"),
        timeout_s=timeout_s,
    )
    path = os.pathsep.join([str(tools["etcdctl"].parent), str(tools["etcdutl"].parent), os.environ["PATH"]])
    return subprocess.run(
        ["bash", "-s"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "PATH": path},
    )


def _revision(fields: str) -> int:
    """The first `"Revision" : N` of etcdctl's `-w fields` output."""
    return int(fields.split('"Revision" : ')[1].split()[0])


def test_snapshot_checked_moved_into_place_and_pruned(tools: dict[str, Path], live: TlsEtcd, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    others = backups / "etcd-cp02-20200101T000000Z.db"  # another control plane's, on a shared NFS dir
    others.write_text("not ours")
    taken: list[str] = []
    for _ in range(3):
        res = _run_snapshot(tools, live, backups, keep=2)
        assert res.returncode == 0, res.stderr
        where = snapshot_location(res.stdout)
        assert where is not None, res.stdout
        path, size = where
        assert Path(path).stat().st_size == size > OBJECTS * 1000
        assert oct(Path(path).stat().st_mode & 0o777) == "0o600"
        assert "TOTAL KEY" in res.stdout.upper()  # etcdutl's status table
        taken.append(path)
        time.sleep(1.1)  # names are per second
    kept = sorted(p.name for p in backups.iterdir())
    assert kept == sorted([others.name, Path(taken[1]).name, Path(taken[2]).name])
    assert f"pruned {taken[0]}" in res.stdout  # the last run pruned the first
    assert not list(backups.glob(".*.part")) and (backups.stat().st_mode & 0o777) == 0o700


def test_failed_snapshot_leaves_nothing(tools: dict[str, Path], live: TlsEtcd, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    wrong = TlsEtcd(live.proc, "https://127.0.0.1:1", live.pki, live.data_dir)  # nothing listens there
    res = _run_snapshot(tools, wrong, backups, keep=2, timeout_s=15)
    assert res.returncode != 0 and snapshot_location(res.stdout) is None
    assert list(backups.iterdir()) == []


def test_restore_into_a_new_data_dir_brings_the_objects_back(
    tools: dict[str, Path], live: TlsEtcd, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    res = _run_snapshot(tools, live, backups, keep=3)
    assert res.returncode == 0, res.stderr
    snapshot = Path(snapshot_location(res.stdout)[0])  # type: ignore[index]
    before = _revision(live.ctl(tools["etcdctl"], "endpoint", "status", "-w", "fields"))
    live.ctl(tools["etcdctl"], "put", "/registry/configmaps/default/after-snapshot", "v")

    # docs/day-two.md, step 3, with this test's name and peer URL.
    data = tmp_path / "restored" / "etcd"
    data.parent.mkdir()
    peer = free_port()
    restore = subprocess.run(
        [
            str(tools["etcdutl"]), "snapshot", "restore", str(snapshot),
            "--data-dir", str(data), "--name", "cp01",
            "--initial-cluster", f"cp01=http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster-token", "homelab-restore-test",
            "--bump-revision", "1000000000", "--mark-compacted",
        ],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert restore.returncode == 0, restore.stderr
    restored = start_etcd(tools["etcd"], live.pki, data, peer=peer)
    try:
        wait_healthy(restored, tools["etcdctl"])
        keys = restored.ctl(tools["etcdctl"], "get", "--prefix", "/registry/", "--keys-only").split()
        assert len(keys) == OBJECTS
        assert "/registry/configmaps/default/after-snapshot" not in keys
        value = restored.ctl(tools["etcdctl"], "get", "/registry/configmaps/default/cm-00123", "--print-value-only")
        assert value.strip() == object_value(123)
        status = restored.ctl(tools["etcdctl"], "endpoint", "status", "-w", "fields")
        revision = _revision(status)
        assert revision >= 1_000_000_000 + before  # bumped past anything a watcher has seen
    finally:
        restored.stop()
