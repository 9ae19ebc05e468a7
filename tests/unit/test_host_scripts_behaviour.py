"""The host scripts run for real in bash, in a private mount namespace.

/etc/kubernetes, /var/lib/etcd and /etc/cni/net.d are bind-mounted from a temp dir,
and `kubeadm` is a stand-in that records its calls and can be told to fail. This tests
the scripts' own logic (guards, retry after a failure, cleanup), not kubeadm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from components.cluster import host_scripts as hs
from components.cluster.kubeadm_config import render_init, render_join
from tests.support.cluster_fixtures import ha_spec

PRIVATE_DIRS = ("/etc/kubernetes", "/var/lib/etcd", "/etc/cni/net.d")

FAKE_KUBEADM = r"""#!/usr/bin/env bash
# stand-in for kubeadm: record the call, do what the real one leaves behind
echo "$*" >> "$SANDBOX/calls.log"
case "$1" in
  init)
    mkdir -p /etc/kubernetes/manifests /var/lib/etcd/member
    touch /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/admin.conf
    [ -f "$SANDBOX/fail" ] && { echo "kubeadm: init failed (test)" >&2; echo "--token SECRET-ON-FAIL" >&2; exit 1; }
    touch /etc/kubernetes/kubelet.conf
    echo "kubeadm join 192.168.2.10:6443 --token SECRET-TOKEN --certificate-key SECRET-KEY" ;;
  join)
    touch /etc/kubernetes/kubelet.conf
    [ -f "$SANDBOX/fail" ] && { echo "kubeadm: join failed (test)" >&2; exit 1; } ;;
  reset)
    rm -rf /etc/kubernetes/manifests /etc/kubernetes/admin.conf /etc/kubernetes/kubelet.conf ;;
esac
exit 0
"""


def _usable() -> str | None:
    if os.geteuid() != 0:
        return "needs root for a private mount namespace"
    if shutil.which("unshare") is None:
        return "needs unshare (util-linux)"
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        return f"unshare --mount is not permitted here: {probe.stderr.decode().strip()}"
    return None


pytestmark = pytest.mark.skipif(_usable() is not None, reason=f"host-script sandbox: {_usable()}")


class Sandbox:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir()
        (self.bin / "kubeadm").write_text(FAKE_KUBEADM)
        (self.bin / "kubeadm").chmod(0o755)
        # mount points (and their parents) this test makes on the shared filesystem
        self.created: list[str] = []
        for d in PRIVATE_DIRS:
            path = Path(d)
            for p in [*reversed(path.parents), path]:
                if not p.exists() and str(p) not in self.created:
                    self.created.append(str(p))
        for d in PRIVATE_DIRS:
            (root / "fs" / d.lstrip("/")).mkdir(parents=True)

    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        mounts = "".join(f"mkdir -p {d} && mount --bind {self.root / 'fs' / d.lstrip('/')} {d}\n" for d in PRIVATE_DIRS)
        wrapper = f"set -e\n{mounts}export PATH={self.bin}:$PATH SANDBOX={self.root}\nexec bash -s\n"
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "bash", "-c", wrapper],
            input=script,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    def calls(self) -> list[str]:
        log = self.root / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    def path(self, p: str) -> Path:
        return self.root / "fs" / p.lstrip("/")

    def fail(self, on: bool) -> None:
        flag = self.root / "fail"
        if on:
            flag.touch()
        elif flag.exists():
            flag.unlink()

    def cleanup(self) -> None:
        for d in reversed(self.created):  # deepest first
            if os.path.isdir(d) and not os.listdir(d):
                os.rmdir(d)


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    box = Sandbox(tmp_path)
    yield box  # type: ignore[misc]
    box.cleanup()


SPEC = ha_spec()


def test_failed_init_is_retried_cleanly_then_never_run_again(sandbox: Sandbox) -> None:
    script = hs.init_script(SPEC, render_init(SPEC), {})
    sandbox.fail(True)
    first = sandbox.run(script)
    assert first.returncode != 0 and "init failed" in first.stderr
    assert "SECRET" not in first.stdout + first.stderr  # the tail shown on failure hides token lines
    assert not sandbox.path(hs.INIT_MARKER).exists()
    assert [c.split()[0] for c in sandbox.calls()] == ["init"]

    sandbox.fail(False)
    second = sandbox.run(script)
    assert second.returncode == 0, second.stderr
    assert "leftovers of an unfinished kubeadm init" in second.stdout
    assert [c.split()[0] for c in sandbox.calls()] == ["init", "reset", "init"]
    assert sandbox.calls()[-1] == f"init --config {hs.INIT_CONFIG} --upload-certs"
    assert "SECRET" not in second.stdout + second.stderr  # kubeadm's join line stays on the host
    assert "SECRET-TOKEN" in sandbox.path(hs.INIT_LOG).read_text()
    assert oct(sandbox.path(hs.INIT_LOG).stat().st_mode & 0o777) == "0o600"
    assert sandbox.path(hs.INIT_MARKER).exists()
    assert not sandbox.path("/var/lib/etcd/member").exists() or sandbox.path(hs.INIT_MARKER).exists()

    third = sandbox.run(script)
    assert third.returncode == 0 and "not run again" in third.stdout
    assert len(sandbox.calls()) == 3  # kubeadm untouched


def test_init_leaves_kube_vip_on_admin_conf(sandbox: Sandbox) -> None:
    result = sandbox.run(hs.init_script(SPEC, render_init(SPEC), {}))
    assert result.returncode == 0, result.stderr
    manifest = sandbox.path("/etc/kubernetes/manifests/kube-vip.yaml").read_text()
    assert "path: /etc/kubernetes/admin.conf" in manifest and "super-admin" not in manifest
    config = sandbox.path(hs.INIT_CONFIG)
    assert config.read_text() == render_init(SPEC)
    assert oct(config.stat().st_mode & 0o777) == "0o600"


def test_join_retries_and_removes_its_token(sandbox: Sandbox) -> None:
    node = SPEC.nodes[3]
    config = render_join(SPEC, node, token="abcdef.0123456789abcdef", ca_cert_hash="sha256:" + "a" * 64)
    script = hs.join_script(SPEC, node, config, {})
    sandbox.fail(True)
    assert sandbox.run(script).returncode != 0
    assert not sandbox.path(f"{hs.STATE_DIR}/kubeadm-join.yaml").exists()  # the token is gone even on failure
    sandbox.fail(False)
    ok = sandbox.run(script)
    assert ok.returncode == 0, ok.stderr
    assert [c.split()[0] for c in sandbox.calls()] == ["join", "reset", "join"]
    assert not sandbox.path(f"{hs.STATE_DIR}/kubeadm-join.yaml").exists()
    again = sandbox.run(script)
    assert "already part of the cluster" in again.stdout and len(sandbox.calls()) == 3


def test_joined_node_refuses_init(sandbox: Sandbox) -> None:
    sandbox.path(hs.JOIN_MARKER).parent.mkdir(parents=True, exist_ok=True)
    sandbox.path(hs.JOIN_MARKER).touch()
    result = sandbox.run(hs.init_script(SPEC, render_init(SPEC), {}))
    assert result.returncode == 1 and "refusing to run kubeadm init" in result.stderr
    assert sandbox.calls() == []


def test_reset_clears_the_node(sandbox: Sandbox) -> None:
    assert sandbox.run(hs.init_script(SPEC, render_init(SPEC), {})).returncode == 0
    reset = sandbox.run(hs.reset_script(SPEC.nodes[0]))
    assert reset.returncode == 0, reset.stderr
    assert sandbox.calls()[-1] == "reset -f"
    assert not sandbox.path(hs.STATE_DIR).exists()
    assert not sandbox.path("/etc/kubernetes/manifests/kube-vip.yaml").exists()
    assert sandbox.path("/var/lib/etcd").is_dir() and not any(sandbox.path("/var/lib/etcd").iterdir())
