"""`local_machines`: three real machines (cp01, cp02, worker01) for the whole session.

They live in a temporary state dir, on their own bridge and subnet (HOMELAB_TEST_BRIDGE,
HOMELAB_TEST_SUBNET; default hlbt0, 10.252.0.0/24), so they never meet the machines of
`scripts/lab machines`. Other test files reuse the fixture; `local_machines.up(4)` adds a
worker. Everything is removed at the end of the session.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.machines.cluster import kubectl_binary
from tests.machines.local import DEFAULT_IMAGES, LocalLab, missing
from tools.artifacts import toolchain
from tools.machine_image import cached, content_key

TEST_BRIDGE = os.environ.get("HOMELAB_TEST_BRIDGE", "hlbt0")
TEST_SUBNET = os.environ.get("HOMELAB_TEST_SUBNET", "10.252.0.0/24")
# What a cluster on the machines needs from the toolchain (scripts/toolchain).
KUBERNETES_BINARIES = ("kubeadm", "kubelet", "kubectl", "kube-apiserver", "registry")


def skip_unless_machines_can_run() -> None:
    if why := missing():
        pytest.skip("LOCAL MACHINES UNAVAILABLE -- " + "; ".join(why))
    # The test command starts no long build: the base image (debootstrap) is built beforehand.
    if cached(DEFAULT_IMAGES, content_key()) is None:
        pytest.skip(
            f"LOCAL MACHINES: no base image in {DEFAULT_IMAGES} -- build it first "
            "(debootstrap, about 3 minutes): scripts/lab machines image"
        )


def require_cluster_tools(*extra: str, build: str = "scripts/toolchain") -> tuple[toolchain.Toolchain, Path]:
    """The toolchain (KUBERNETES_BINARIES and `extra`) and its kubectl, or a loud skip naming
    what is missing: a binary (built with `build`) or the mirror's own tools."""
    try:
        tc = toolchain.load([*KUBERNETES_BINARIES, *extra])
    except toolchain.MissingBinary as exc:
        pytest.skip(f"KUBERNETES BINARIES MISSING -- {exc} (build them: {build})")
    if shutil.which("dpkg-deb") is None or shutil.which("gpg") is None:
        pytest.skip("MIRROR TOOLS MISSING -- apt-get install dpkg-dev gnupg")
    kubectl = kubectl_binary()
    assert kubectl is not None
    return tc, kubectl


@pytest.fixture(scope="session")
def local_machines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLab]:
    skip_unless_machines_can_run()
    state: Path = tmp_path_factory.mktemp("machines")
    state.chmod(0o700)
    lab = LocalLab(state_dir=state, bridge=TEST_BRIDGE, subnet=TEST_SUBNET)
    lab.down()  # whatever an interrupted run left on this bridge
    try:
        lab.up(3)
        yield lab
    finally:
        res = lab.down()
        shutil.rmtree(state, ignore_errors=True)
        if res.returncode != 0:
            raise RuntimeError(f"machines down failed: {res.stdout}\n{res.stderr}")


@pytest.fixture(scope="module")
def clean_machines(local_machines: LocalLab) -> LocalLab:
    """The session's machines made anew for one test module (a few seconds: the image is cached).

    Each cluster module starts from empty machines, whatever an earlier module left on them.
    """
    res = local_machines.down()
    if res.returncode != 0:
        raise RuntimeError(f"machines down failed: {res.stdout}\n{res.stderr}")
    local_machines.up(3)
    return local_machines
