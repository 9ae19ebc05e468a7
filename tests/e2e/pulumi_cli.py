"""The Pulumi CLI as the engine tests run it: private home and file backend, nothing downloaded.

Shared by the engine tests (test_engine_*.py): the runner, a throwaway stack's private
home, backend and environment, the empty program a no-op preview is measured against,
and the scan of the state for plaintext secrets.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.engine_plugins import private_pulumi_home

# Pulumi's marker of a secret value in state and exports.
SECRET_SIG = "4dabf18193072939515e22adb298388d"
PASSPHRASE = "homelab-e2e-test-only"


@dataclass(frozen=True)
class Ran:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def tail(self, n: int = 60) -> str:
        return "\n".join((self.stdout + "\n" + self.stderr).strip().splitlines()[-n:])


@dataclass
class Pulumi:
    """The CLI in one project directory with a private home, backend and passphrase."""

    cwd: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 180.0, check: bool = True) -> Ran:
        argv = ["pulumi", *args, "--non-interactive"]
        start = time.monotonic()
        # Its own session, so that a run cut short takes its plugins down with it.
        proc = subprocess.Popen(
            argv,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            command = " ".join(argv)
            raise AssertionError(f"`{command}` timed out after {timeout} s; its output:\n{out[-4000:]}") from None
        ran = Ran(argv, proc.returncode, stdout, stderr, time.monotonic() - start)
        if check and ran.returncode != 0:
            raise AssertionError(f"`{' '.join(argv)}` failed ({ran.returncode}) in {self.cwd}:\n{ran.tail()}")
        return ran


class StackSteps:
    """What a module's steps on one stack share: `done` names the steps that passed, so a
    later step that builds on a failed one skips instead of failing for the wrong reason."""

    pulumi: Pulumi
    done: set[str]

    def require(self, *steps: str) -> None:
        if missing := [s for s in steps if s not in self.done]:
            pytest.skip(f"an earlier step failed or was skipped: {', '.join(missing)}")

    def export(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.pulumi.run("stack", "export", "--show-secrets=false").stdout)
        return data


def stack_env(engine: Mapping[str, str], home: Path, state: Path) -> dict[str, str]:
    """The toolchain's environment (`engine`) on the private PULUMI_HOME `home` and a file backend
    in `state`: no plugin download, no update check, the tests' passphrase, this interpreter."""
    return {
        **engine,
        "PULUMI_HOME": str(home),
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_UPDATE_CHECK": "1",
        "PULUMI_PYTHON_CMD": sys.executable,
    }


def project_copy(program: Path, dst: Path) -> Path:
    """`program`'s Pulumi.yaml in a temporary directory (stack config and state stay out of the
    repo); `main` points back at the program, and the venv is this interpreter's."""
    dst.mkdir(parents=True)
    project = yaml.safe_load((program / "Pulumi.yaml").read_text())
    project["main"] = os.path.relpath(program, dst)
    project["runtime"]["options"]["virtualenv"] = str(Path(sys.prefix))
    (dst / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return dst


def floor_stack(directory: Path, env: dict[str, str]) -> Pulumi:
    """A stack of an empty Python program: the engine's own floor for a preview's time."""
    directory.mkdir()
    project = {"name": "floor", "runtime": {"name": "python", "options": {"virtualenv": sys.prefix}}}
    (directory / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    (directory / "__main__.py").write_text("")
    floor = Pulumi(directory, env)
    floor.run("stack", "init", "floor", "--secrets-provider", "passphrase")
    return floor


@dataclass(frozen=True)
class Workspace:
    """A test's throwaway stack and the floor's, in one private directory."""

    state: Path  # the file backend
    home: Path  # the private PULUMI_HOME
    pulumi: Pulumi
    floor: Pulumi


def new_workspace(
    tmp: Path, engine: Mapping[str, str], plugins: tuple[str, ...], program: Path, stack: str
) -> Workspace:
    """In `tmp` (made private): a file backend, a PULUMI_HOME holding only `plugins`, the stack
    `stack` of `program` initialised with the tests' passphrase, and the floor's stack."""
    tmp.chmod(0o700)
    state = tmp / "state"
    state.mkdir()
    home = private_pulumi_home(Path(engine["PULUMI_HOME"]), tmp / "pulumi-home", plugins)
    env = stack_env(engine, home, state)
    pulumi = Pulumi(project_copy(program, tmp / "project"), env)
    pulumi.run("stack", "init", stack, "--secrets-provider", "passphrase")
    return Workspace(state, home, pulumi, floor_stack(tmp / "floor", env))


def write_figures(figures: dict[str, Any], pulumi: Pulumi, floor: Pulumi, path: Path, *, floor_runs: int) -> None:
    """Add the floor's preview times (`floor_runs` of them), the no-op preview's median over
    theirs (`figures["noop_preview_s"]` holds its runs), the engine's version and the time;
    write the whole as JSON to `path`."""
    seconds = [floor.run("preview", timeout=120).seconds for _ in range(floor_runs)]
    figures["floor_preview_s"] = [round(s, 2) for s in seconds]
    figures["noop_over_floor"] = round(statistics.median(figures["noop_preview_s"]) / statistics.median(seconds), 2)
    figures["engine"] = pulumi.run("version").stdout.strip()
    figures["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")


def base64_needles(text: bytes) -> list[str]:
    """What `text` looks like inside any base64 blob, at each of the three alignments."""
    out = []
    for pad in range(3):
        enc = base64.b64encode(b"\0" * pad + text).decode()
        out.append(enc[4 if pad else 0 : ((pad + len(text)) // 3) * 4])
    return out


def is_secret(value: Any) -> bool:
    """Whether a value of the state (an input or output) is stored as a Pulumi secret."""
    return SECRET_SIG in json.dumps(value)


def key_lines(what: str, pem: str) -> dict[str, str]:
    """Needles for the lines of a PEM or OpenSSH key, those long enough not to match by chance."""
    return {f"{what} line {i}": line for i, line in enumerate(pem.splitlines()) if len(line) >= 16}


def plaintext_leaks(export: dict[str, Any], state_dir: Path, needles: Mapping[str, str]) -> list[str]:
    """`<what> in <where>` for every needle found in the export or in any file of the backend
    (state, backups, history). Besides `needles`, any PEM private key, plain or in base64."""
    wanted = {"a PEM private key": "PRIVATE KEY", **needles}
    wanted |= {f"a base64 PEM private key ({i})": n for i, n in enumerate(base64_needles(b"PRIVATE KEY"))}
    texts = {"pulumi stack export --show-secrets=false": json.dumps(export)}
    for f in sorted(state_dir.rglob("*")):
        if f.is_file():
            texts[str(f.relative_to(state_dir))] = f.read_text(errors="replace")
    return [f"{what} in {where}" for where, text in texts.items() for what, needle in wanted.items() if needle in text]
