"""`scripts/lab backup <stack>` for real: over SSH to a throwaway control plane that runs the
real etcd with kubeadm's PKI at kubeadm's paths, with `--etcd-tools host` (these hosts
have no container runtime to `crictl exec` into).

etcd listens on the node's own loopback (its network namespace), the PKI is under the
node's private /etc/kubernetes, and the backup directory is private to the node too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.check_stack import write_check_stack
from tests.e2e.hosts import PRIVATE_DIRS, E2EHost, hosts_or_skip
from tests.realbin.binaries import ManagedProcess, require_tool, spawn, wait_for
from tests.realbin.etcd_tls import make_pki
from tools.etcd_backup import main as backup_main

SUBNET = "10.250.114.0/24"
BACKUPS = "/var/backups/homelab-e2e-etcd"


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[E2EHost, Path]]:
    tools = {k: require_tool(k) for k in ("etcd", "etcdctl", "etcdutl", "kubeadm")}
    tmp = tmp_path_factory.mktemp("backup-hosts")
    with hosts_or_skip(tmp, 1, subnet=SUBNET, names=["cp01"], private_dirs=(*PRIVATE_DIRS, BACKUPS)) as (cp01,):
        etcd: ManagedProcess | None = None
        try:
            pki = make_pki(tools["kubeadm"], cp01.root / "etc/kubernetes/pki")
            cp01.put_on_path({name: tools[name] for name in ("etcdctl", "etcdutl")})
            etcd = spawn(
                "etcd-cp01",
                ["ip", "netns", "exec", cp01.netns, tools["etcd"], "--name=cp01", f"--data-dir={cp01.root / 'etcd'}",
                 "--listen-client-urls=https://127.0.0.1:2379", "--advertise-client-urls=https://127.0.0.1:2379",
                 "--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
                 "--initial-cluster=cp01=http://127.0.0.1:2380", f"--cert-file={pki / 'server.crt'}",
                 f"--key-file={pki / 'server.key'}", f"--trusted-ca-file={pki / 'ca.crt'}",
                 "--client-cert-auth=true", "--listen-metrics-urls=", "--log-level=warn"],
                tmp / "etcd.log",
            )  # fmt: skip
            health = (
                "etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt "
                "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt "
                "--key=/etc/kubernetes/pki/etcd/healthcheck-client.key"
            )
            wait_for("etcd in cp01", lambda: cp01.ssh(f"{health} endpoint health").returncode == 0, 60, procs=[etcd])
            assert cp01.ssh(f"{health} put /registry/namespaces/default something").returncode == 0
            yield cp01, tmp
        finally:  # before the host goes
            if etcd is not None:
                etcd.stop()


def test_backup_now_prints_where_the_snapshot_went(
    control_plane: tuple[E2EHost, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cp01, _ = control_plane
    path = write_check_stack(tmp_path, [cp01], SUBNET)
    doc = yaml.safe_load(path.read_text())
    doc["config"]["homelab:backup"] = {"directory": BACKUPS, "keep": 1}
    path.write_text(yaml.safe_dump(doc))
    assert backup_main(["e2e", "--stack-file", str(path), "--etcd-tools", "host"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    node, _, where = last.partition(":")
    assert node == "cp01" and where.startswith(f"{BACKUPS}/etcd-cp01-") and where.endswith(".db")
    local = cp01.root / BACKUPS.lstrip("/") / Path(where).name  # the node's private directory
    assert local.stat().st_size > 0 and oct(local.stat().st_mode & 0o777) == "0o600"
    status = cp01.ssh(f"etcdutl snapshot status {where} -w json")
    assert status.returncode == 0 and '"totalKey"' in status.stdout


def test_backup_of_a_worker_is_refused(control_plane: tuple[E2EHost, Path], tmp_path: Path) -> None:
    cp01, _ = control_plane
    path = write_check_stack(tmp_path, [cp01], SUBNET)
    assert backup_main(["e2e", "--stack-file", str(path), "--node", "worker09"]) == 2
