"""Fixtures for tests on real binaries (etcd, kube-apiserver, kubeadm, helm, coredns).

Missing binaries skip the tests that need them, naming the `scripts/toolchain` command
that builds them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .controlplane import ControlPlane

# .controlplane is imported inside the fixtures: it skips (at import) when its test-only
# dependencies are missing, and a conftest must not skip at import time.


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "realbin: runs real binaries built by scripts/toolchain (skipped when missing)",
    )


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """etcd + kube-apiserver on loopback with the Cilium and MetalLB CRDs Established."""
    from .binaries import require_tool
    from .controlplane import start_control_plane
    from .manifests import cilium_crds, metallb_crds

    for key in ("etcd", "kube-apiserver", "cilium-crds", "metallb-crds"):
        require_tool(key)
    cp = start_control_plane(tmp_path_factory.mktemp("controlplane"))
    try:
        cp.install_crds(cilium_crds() + metallb_crds())
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def cilium_chart() -> Path:
    from .binaries import require_tool

    return require_tool("cilium-chart")


@pytest.fixture(scope="session")
def metallb_chart() -> Path:
    from .binaries import require_tool

    return require_tool("metallb-chart")
