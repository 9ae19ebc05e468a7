"""Fixtures for end-to-end tests on throwaway hosts (network namespaces running sshd)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.hosts import E2EHost, HostsUnavailable, cleanup_stale, start_hosts


def _count() -> int:
    return int(os.environ.get("HOMELAB_E2E_NODES", "3"))


@pytest.fixture(scope="session")
def e2e_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[E2EHost]]:
    """A list of E2EHost (name, address, user, private_key_pem, host_key_pub, ...); torn down at the end."""
    tmp: Path = tmp_path_factory.mktemp("hosts")
    tmp.chmod(0o700)
    try:
        cleanup_stale()
        with start_hosts(_count(), tmp) as hosts:
            yield hosts
    except HostsUnavailable as exc:
        pytest.skip(f"E2E HOSTS UNAVAILABLE -- {exc}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # throwaway keys
