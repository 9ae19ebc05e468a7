"""Fixtures for end-to-end tests on throwaway hosts (network namespaces running sshd)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e.hosts import E2EHost, hosts_or_skip


def _count() -> int:
    return int(os.environ.get("HOMELAB_E2E_NODES", "3"))


@pytest.fixture(scope="session")
def e2e_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[E2EHost]]:
    """A list of E2EHost (name, address, user, private_key_pem, host_key_pub, ...); torn down at the end."""
    with hosts_or_skip(tmp_path_factory.mktemp("hosts"), _count()) as hosts:
        yield hosts
