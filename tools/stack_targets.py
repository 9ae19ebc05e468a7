"""A stack's machines as SSH targets, for the tools that run beside `pulumi` (check, backup).

The stack file is validated by the program's own settings code first (lab.settings),
so a tool never acts on a stack that `pulumi up` would refuse. The private key comes
from `privateKeyPath`, or from the secret config (`privateKey`) through
`pulumi config get`; it is written to a 0600 file in a private temp directory that is
removed afterwards, never printed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.validation import ConfigError
from lab.settings import LabSettings, build_settings
from tools.mockrun import ROOT

SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR")


class StackError(RuntimeError):
    """The stack cannot be used by a tool; the message says why and what to do."""


@dataclass(frozen=True)
class Target:
    name: str
    address: str
    role: str
    user: str
    port: int
    host_key: str | None
    key_source: str = field(repr=False)  # "path:<file>" or "config:<pulumi config path>"
    config_key: str = ""  # where this node's SSH settings live in the stack, for messages

    @property
    def is_control_plane(self) -> bool:
        return self.role == "control-plane"


def stack_path(stack: str, root: Path = ROOT) -> Path:
    return root / "config" / f"Pulumi.{stack}.yaml"


def read_raw(path: Path) -> tuple[dict[str, Any], set[str]]:
    """`homelab:*` values without the prefix; `{secure: ...}` values become markers (secret)."""
    if not path.exists():
        raise StackError(f"no stack file {path}")
    doc = yaml.safe_load(path.read_text()) or {}
    raw: dict[str, Any] = {}
    secret: set[str] = set()
    for key, value in (doc.get("config") or {}).items():
        if not str(key).startswith("homelab:"):
            continue
        if has_secure(value):
            secret.add(str(key))
        raw[str(key).split(":", 1)[1]] = _marker(value)
    return raw, secret


def has_secure(value: Any) -> bool:
    """Whether a stack value is, or holds at any depth, an encrypted `{secure: ...}` value."""
    if isinstance(value, Mapping):
        return set(value) == {"secure"} or any(has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(has_secure(v) for v in value)
    return False


def _marker(value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            return "<secret>"
        return {k: _marker(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_marker(v) for v in value]
    return value


def load_settings(raw: Mapping[str, Any], secret: set[str]) -> LabSettings:
    # preview=True: an unreadable key file is reported by the tool itself, per node.
    return build_settings(raw, secret, preview=True)


@dataclass(frozen=True)
class Stack:
    """A stack file read and validated for a tool: its `homelab:*` values, settings and nodes."""

    name: str
    path: Path
    raw: dict[str, Any]
    settings: LabSettings

    def targets(self) -> list[Target]:
        return targets(self.raw, self.settings)

    def control_planes(self) -> list[Target]:
        return [t for t in self.targets() if t.is_control_plane]

    def keyring(self) -> AbstractContextManager[KeyRing]:
        # The project root the stack file lives in (config/Pulumi.<stack>.yaml), for `pulumi config`.
        return keyring(self.name, self.path.parent.parent)


def add_stack_arguments(ap: argparse.ArgumentParser) -> None:
    """The `<stack> [--stack-file FILE]` every tool beside pulumi takes."""
    ap.add_argument("stack")
    ap.add_argument("--stack-file", type=Path, help="default: config/Pulumi.<stack>.yaml")


def open_stack(stack: str, stack_file: Path | None = None) -> Stack:
    """The stack, validated as `pulumi up` would; StackError or ConfigError when it is unusable."""
    path = (stack_file or stack_path(stack)).resolve()
    raw, secret = read_raw(path)
    return Stack(stack, path, raw, load_settings(raw, secret))


def open_stack_or_say(tool: str, args: argparse.Namespace) -> Stack | None:
    """`open_stack` for a tool's parsed `add_stack_arguments`; None after printing why it is unusable."""
    try:
        return open_stack(args.stack, args.stack_file)
    except (StackError, ConfigError) as err:
        print(f"homelab {tool}: {err}", file=sys.stderr)
        return None


def targets(raw: Mapping[str, Any], settings: LabSettings) -> list[Target]:
    default_ssh = raw.get("ssh") or {}
    out: list[Target] = []
    raw_nodes = raw.get("nodes") or []
    for i, node in enumerate(settings.cluster.nodes):
        node_raw = next((n for n in raw_nodes if isinstance(n, Mapping) and n.get("name") == node.name), {})
        ssh_raw = node_raw.get("ssh") or {}
        index = raw_nodes.index(node_raw) if node_raw in raw_nodes else i
        if "privateKeyPath" in ssh_raw or "privateKey" in ssh_raw:
            source_raw, where = ssh_raw, f"nodes[{index}].ssh"
        else:
            source_raw, where = default_ssh, "ssh"
        if "privateKeyPath" in source_raw:
            source = f"path:{source_raw['privateKeyPath']}"
        else:
            source = f"config:{where}.privateKey"
        out.append(
            Target(
                name=node.name,
                address=node.address,
                role=node.role,
                user=node.ssh.user,
                port=node.ssh.port,
                host_key=node.ssh.host_key,
                key_source=source,
                config_key=f"homelab:nodes[{index}]",
            )
        )
    return out


def read_private_key(target: Target, stack: str, root: Path = ROOT) -> str:
    kind, _, value = target.key_source.partition(":")
    if kind == "path":
        path = Path(os.path.expandvars(os.path.expanduser(value)))
        try:
            return path.read_text()
        except OSError as exc:
            raise StackError(f"cannot read the SSH private key file {value!r} ({exc.strerror})") from None
    argv = ["pulumi", "config", "get", "--path", value, "--stack", stack, "--cwd", str(root)]
    try:
        res = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    except FileNotFoundError:
        raise StackError(
            f"homelab:{value} is a secret and no pulumi CLI is on PATH to decrypt it (`. scripts/pulumi-env`), "
            "or use privateKeyPath"
        ) from None
    if res.returncode != 0 or not res.stdout.strip():
        raise StackError(f"`{shlex.join(argv)}` failed: {res.stderr.strip()[:300]}")
    return res.stdout


def known_hosts_line(address: str, port: int, host_key: str) -> str:
    host = address if port == 22 else f"[{address}]:{port}"
    return f"{host} {host_key}\n"


class KeyRing:
    """Private keys in a private temp directory, one file per key source; removed on close."""

    def __init__(self, stack: str, root: Path = ROOT) -> None:
        self.stack = stack
        self.root = root
        self._dir = tempfile.TemporaryDirectory(prefix="homelab-keys-")
        self._files: dict[str, Path] = {}

    def key_file(self, target: Target) -> Path:
        if target.key_source not in self._files:
            text = read_private_key(target, self.stack, self.root)
            path = Path(self._dir.name) / f"id{len(self._files)}"
            path.touch(mode=0o600)
            path.write_text(text if text.endswith("\n") else text + "\n")
            self._files[target.key_source] = path
        return self._files[target.key_source]

    def ssh_argv(self, target: Target, *, connect_timeout: int = 10) -> list[str]:
        """`ssh ... user@host --`; checks the pinned host key when the stack has one."""
        argv = ["ssh", "-i", str(self.key_file(target)), *SSH_OPTIONS]
        argv += ["-o", f"ConnectTimeout={connect_timeout}", "-p", str(target.port)]
        if target.host_key:
            kh = Path(self._dir.name) / f"known_hosts-{target.name}"
            kh.write_text(known_hosts_line(target.address, target.port, target.host_key))
            argv += ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={kh}"]
        else:
            # No pin in the stack: as `pulumi up` does, any host key is accepted (check prints it).
            argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        return [*argv, f"{target.user}@{target.address}", "--"]

    def close(self) -> None:
        self._dir.cleanup()


@contextmanager
def keyring(stack: str, root: Path = ROOT) -> Iterator[KeyRing]:
    ring = KeyRing(stack, root)
    try:
        yield ring
    finally:
        ring.close()
