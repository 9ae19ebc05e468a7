"""tools.hostrun reads plain stack files only: encrypted values are named, at any depth."""

from __future__ import annotations

from tools.hostrun import encrypted_keys


def test_encrypted_values_are_found_with_their_key_paths() -> None:
    config = {
        "homelab:ssh": {"user": "root", "privateKey": {"secure": "v1:abc"}},
        "homelab:nodes": [{"name": "cp01", "ssh": {"privateKey": {"secure": "v1:def"}}}],
        # A registry marked insecure is not an encrypted value.
        "homelab:cluster": {"registries": [{"host": "10.0.0.1:5000", "insecure": True}]},
    }
    assert encrypted_keys(config) == ["homelab:ssh.privateKey", "homelab:nodes[0].ssh.privateKey"]


def test_plain_config_has_none() -> None:
    assert encrypted_keys({"homelab:ssh": {"user": "root", "privateKeyPath": "/root/.ssh/id"}}) == []
