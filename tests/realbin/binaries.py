"""Locating the real binaries built by scripts/toolchain, and running them.

Binaries are found through ``HOMELAB_*`` environment variables or the toolchain's
``manifest.json``. ``require_tool`` calls ``pytest.skip`` naming what is missing and the
command that builds it, so these tests never fail for want of a build.

Long-running children start in their own process group and are killed on ``stop()``, at
interpreter exit, and by the kernel if the test process itself dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

BUILD_HINT = "build it with `scripts/toolchain` (or `scripts/toolchain --only {item}`)"

# Toolchain output key -> toolchain item that produces it.
TOOL_ITEMS: dict[str, str] = {
    "etcd": "etcd",
    "etcdctl": "etcd-tools",
    "etcdutl": "etcd-tools",
    "kube-apiserver": "kubernetes",
    "kubeadm": "kubernetes",
    "coredns": "coredns",
    "helm": "helm",
    "cilium-crds": "cilium",
    "cilium-chart": "cilium",
    "metallb-crds": "metallb",
    "metallb-chart": "metallb",
}

T = TypeVar("T")


# --- locating the toolchain ---------------------------------------------------------------


def toolchain_root() -> Path:
    """Same rule as scripts/toolchain."""
    env = os.environ.get("HOMELAB_TOOLCHAIN_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "homelab" / "toolchain"


def toolchain_manifest() -> dict[str, Any]:
    """The toolchain's manifest.json, or an empty manifest when nothing was built."""
    path = Path(os.environ.get("HOMELAB_TOOLCHAIN_MANIFEST") or toolchain_root() / "manifest.json")
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"items": {}, "env": {}}
    return data


def env_var(key: str) -> str:
    return "HOMELAB_" + key.upper().replace("-", "_")


def find_tool(key: str) -> Path | None:
    """Path of a toolchain output (``kube-apiserver``, ``cilium-chart``, ...), if present."""
    candidates = [
        os.environ.get(env_var(key)),
        toolchain_manifest().get("env", {}).get(env_var(key)),
    ]
    for c in candidates:
        if c and Path(c).exists():
            return Path(c)
    return None


def require_tool(key: str) -> Path:
    """Like find_tool, but skips the calling test when the output is missing."""
    path = find_tool(key)
    if path is None:
        item = TOOL_ITEMS.get(key, key)
        pytest.skip(
            f"real binary/asset {key!r} is missing (not in ${env_var(key)} nor in "
            f"{toolchain_root() / 'manifest.json'}); {BUILD_HINT.format(item=item)}"
        )
    return path


def built_version(item: str) -> str | None:
    """The version the toolchain really built for an item (it may substitute a patch)."""
    entry = toolchain_manifest().get("items", {}).get(item)
    return str(entry["version"]) if entry else None


# --- processes -------------------------------------------------------------------------------

_LIVE: set[ManagedProcess] = set()
_LIVE_LOCK = threading.Lock()


@dataclass(eq=False)
class ManagedProcess:
    """A child in its own process group, logging to a file; stop() kills the group."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        with _LIVE_LOCK:
            _LIVE.discard(self)
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


def _die_with_parent() -> None:
    # If pytest itself is killed (no teardown, no atexit), the kernel kills the child too.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(name: str, args: Sequence[str | Path], log_path: Path, **kw: Any) -> ManagedProcess:
    """Start a child in a new session (its own process group), output to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            [str(a) for a in args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            **kw,
        )
    proc = ManagedProcess(name, popen, log_path)
    with _LIVE_LOCK:
        _LIVE.add(proc)
    return proc


@atexit.register
def _stop_all() -> None:
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for p in procs:
        p.stop(grace=3.0)


def free_port() -> int:
    """A TCP+UDP port that is free on 127.0.0.1 right now (DNS servers need both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free loopback port")


def wait_for(
    what: str,
    check: Callable[[], T | None],
    timeout: float,
    interval: float = 0.2,
    procs: Iterable[ManagedProcess] = (),
) -> T:
    """Poll `check` until it returns a truthy value; fail early if a process died."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    procs = list(procs)
    while True:
        for p in procs:
            if not p.alive():
                raise RuntimeError(f"{p.name} exited ({p.popen.returncode}) while waiting for {what}:\n{p.log_tail()}")
        try:
            result = check()
            if result:
                return result
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last_exc = e
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name} log:\n{p.log_tail()}" for p in procs)
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} ({last_exc})\n{tails}")
        time.sleep(interval)


@dataclass(frozen=True)
class CommandResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).strip()


def run(args: Sequence[str | Path], timeout: float = 120.0, **kw: Any) -> CommandResult:
    argv = [str(a) for a in args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    return CommandResult(argv, proc.returncode, proc.stdout, proc.stderr)
