"""scripts/render and scripts/lab as a newcomer meets them: plain messages, no traceback,
no virtualenv to activate, no stale render, and a passphrase that is never empty by default.

Each test runs the scripts in a copy of the project (sharing .venv), so a broken stack
file of the test's own never appears in the real config/.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pulumi
import pytest

from components.kube import refuse_invalid
from tests.support.harness import run_main
from tests.support.project_copy import BAD_ADDRESS, copy_project
from tests.support.stacks import stack_config

# No pulumi CLI of the machine's: scripts/lab must decide by itself (or use the stub below).
BARE_PATH = "/usr/bin:/bin"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The program, its stacks and the scripts, plus `bad` (one address outside the LAN)."""
    return copy_project(tmp_path / "project", scripts=("lab", "render", "setup"), venv=True)


def env(**extra: str) -> dict[str, str]:
    """A shell without the virtualenv activated and without any Pulumi settings."""
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR", "USER")}
    return {**keep, "PATH": BARE_PATH, **extra}


def run(argv: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=env(**extra), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300
    )


def test_render_runs_from_a_python_without_the_project_packages(project: Path, tmp_path: Path) -> None:
    bare = [sys.executable, "-S"]  # no site-packages: pulumi is not importable
    probe = subprocess.run([*bare, "-c", "import pulumi"], capture_output=True, text=True)
    assert probe.returncode != 0, "the probe interpreter can import pulumi; the test would prove nothing"
    pythons = [bare]
    system = shutil.which("python3", path=BARE_PATH)
    if system and subprocess.run([system, "-c", "import pulumi"], capture_output=True).returncode != 0:
        pythons.append([system])
    for i, python in enumerate(pythons):
        out = tmp_path / f"render-{i}"
        proc = run([*python, "scripts/render", "dev", "--out", str(out)], project)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert (out / "resources.txt").is_file()
    # Executed directly too (the shebang's python3), as the README writes it.
    proc = run(["scripts/render", "dev", "--out", str(tmp_path / "direct")], project)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("command", [["scripts/render", "bad"], ["scripts/lab", "render", "bad"]])
def test_a_validation_error_is_the_message_alone(project: Path, command: list[str]) -> None:
    proc = run(command, project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert BAD_ADDRESS in proc.stderr
    assert "Traceback" not in proc.stderr and 'File "' not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("homelab: stack bad: invalid configuration (1 problem(s)):"), proc.stderr


def test_preview_without_a_cli_falls_back_to_the_render_and_its_plain_message(project: Path) -> None:
    proc = run(["scripts/lab", "preview", "bad"], project)
    assert proc.returncode == 1
    assert "no pulumi CLI" in proc.stderr and BAD_ADDRESS in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "command", [["scripts/render", "nosuch"], ["scripts/lab", "render", "nosuch"], ["scripts/lab", "up", "nosuch"]]
)
def test_a_missing_stack_is_one_line(project: Path, command: list[str]) -> None:
    proc = run(command, project)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Pulumi.nosuch.yaml" in lines[0], proc.stderr


def test_a_failed_render_leaves_no_tree_for_a_later_diff(project: Path, tmp_path: Path) -> None:
    out, other = tmp_path / "out", tmp_path / "other"
    assert run(["scripts/render", "dev", "--out", str(out)], project).returncode == 0
    assert run(["scripts/render", "dev", "--out", str(other)], project).returncode == 0
    assert (out / "resources.txt").is_file()
    failed = run(["scripts/render", "bad", "--out", str(out)], project)
    assert failed.returncode == 1
    assert not out.exists(), "the previous render of another stack is still there"
    assert not list(tmp_path.glob(".out*")), "a partial tree was left beside it"
    diff = run(["scripts/render", "--diff", str(out), str(other)], project)
    assert diff.returncode == 2 and diff.stdout == ""
    assert f"base {out} is not a directory" in diff.stderr and "Traceback" not in diff.stderr


def test_diff_needs_two_directories(project: Path, tmp_path: Path) -> None:
    (tmp_path / "exists").mkdir()
    for base, head in ((tmp_path / "missing", tmp_path / "exists"), (tmp_path / "exists", tmp_path / "missing")):
        proc = run(["scripts/render", "--diff", str(base), str(head)], project)
        assert proc.returncode == 2, proc.stdout
        assert str(tmp_path / "missing") in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    same = run(["scripts/render", "--diff", str(tmp_path / "exists"), str(tmp_path / "exists")], project)
    assert same.returncode == 0 and "No change" in same.stdout


# --- the passphrase of the local state -----------------------------------------------------

STUB = """#!/bin/sh
# A stand-in for the pulumi CLI (none can be built here in a test's time): it records
# the passphrase settings `scripts/lab` hands to the real one.
case "$1" in
  whoami) exit 1 ;;
  stack) exit 0 ;;
esac
printf '%s|%s' "${PULUMI_CONFIG_PASSPHRASE-<unset>}" "${PULUMI_CONFIG_PASSPHRASE_FILE-<unset>}" > "$STUB_OUT"
"""


@pytest.fixture
def stub(tmp_path: Path) -> tuple[Path, Path]:
    bindir = tmp_path / "stub-bin"
    bindir.mkdir()
    (bindir / "pulumi").write_text(STUB)
    (bindir / "pulumi").chmod(0o755)
    return bindir, tmp_path / "stub-saw"


def lab_env(stub: tuple[Path, Path], tmp_path: Path, **extra: str) -> dict[str, str]:
    bindir, saw = stub
    return {"PATH": f"{bindir}:{BARE_PATH}", "STUB_OUT": str(saw), "PULUMI_BACKEND_URL": f"file://{tmp_path}", **extra}


def test_no_passphrase_and_no_terminal_stops_with_one_line(
    project: Path, tmp_path: Path, stub: tuple[Path, Path]
) -> None:
    proc = run(["scripts/lab", "preview", "dev"], project, **lab_env(stub, tmp_path))
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "PULUMI_CONFIG_PASSPHRASE" in line and "PULUMI_CONFIG_PASSPHRASE_FILE" in line
    assert not stub[1].exists(), "pulumi ran without a passphrase"


def test_the_local_backend_is_no_longer_given_an_empty_passphrase(
    project: Path, tmp_path: Path, stub: tuple[Path, Path]
) -> None:
    # Not logged in anywhere: scripts/lab picks .pulumi-state/ and still needs a passphrase.
    extra = lab_env(stub, tmp_path)
    del extra["PULUMI_BACKEND_URL"]
    proc = run(["scripts/lab", "preview", "dev"], project, **extra)
    assert proc.returncode == 2 and not stub[1].exists()
    assert (project / ".pulumi-state").is_dir()


def test_passphrase_from_the_environment_or_a_file(project: Path, tmp_path: Path, stub: tuple[Path, Path]) -> None:
    secret_file = tmp_path / "passphrase"
    secret_file.write_text("correct horse\n")
    proc = run(
        ["scripts/lab", "preview", "dev"],
        project,
        **lab_env(stub, tmp_path, PULUMI_CONFIG_PASSPHRASE_FILE=str(secret_file)),
    )
    assert proc.returncode == 0, proc.stderr
    assert stub[1].read_text() == f"<unset>|{secret_file}"  # the CLI reads the file itself
    proc = run(["scripts/lab", "preview", "dev"], project, **lab_env(stub, tmp_path, PULUMI_CONFIG_PASSPHRASE="s3cret"))
    assert proc.returncode == 0, proc.stderr
    assert stub[1].read_text() == "s3cret|<unset>"
    missing = run(
        ["scripts/lab", "preview", "dev"],
        project,
        **lab_env(stub, tmp_path, PULUMI_CONFIG_PASSPHRASE_FILE=str(tmp_path / "nope")),
    )
    assert missing.returncode == 2 and "nope is not a readable file" in missing.stderr


def test_a_stack_with_a_kms_secrets_provider_needs_no_passphrase(
    project: Path, tmp_path: Path, stub: tuple[Path, Path]
) -> None:
    stack = project / "config" / "Pulumi.dev.yaml"
    stack.write_text("secretsprovider: awskms://alias/homelab?region=eu-west-1\n" + stack.read_text())
    proc = run(["scripts/lab", "preview", "dev"], project, **lab_env(stub, tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert stub[1].read_text() == "<unset>|<unset>"


def test_on_a_terminal_the_passphrase_is_asked_once(project: Path, tmp_path: Path, stub: tuple[Path, Path]) -> None:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        ["scripts/lab", "preview", "dev"],
        cwd=project,
        env=env(**lab_env(stub, tmp_path)),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        start_new_session=True,
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    while b"passphrase" not in seen and time.monotonic() < deadline:
        if select.select([leader], [], [], 1)[0]:
            seen += os.read(leader, 1024)
    assert b"passphrase for the secrets of stack dev" in seen, seen
    os.write(leader, b"typed at the prompt\n")
    assert proc.wait(timeout=60) == 0
    while select.select([leader], [], [], 0.5)[0]:
        try:
            chunk = os.read(leader, 1024)
        except OSError:  # the terminal closed with the last process on it
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert stub[1].read_text() == "typed at the prompt|<unset>"
    assert b"typed at the prompt" not in seen  # read -s: never echoed


def test_under_the_pulumi_cli_a_validation_error_is_a_run_error() -> None:
    """The CLI's Python host prints a pulumi.RunError as its message alone and any other
    exception with a traceback (pulumi-language-python-exec: `except pulumi.RunError`).
    The program raises one for an invalid stack file, and the components for bad args."""
    config, secrets = stack_config("dev", nodes=[{"name": "cp01", "address": "192.168.3.11"}])
    with pytest.raises(pulumi.RunError) as raised:
        run_main(config=config, secret_keys=secrets, stack="dev")
    assert str(raised.value).startswith("invalid configuration (")
    assert "homelab:nodes[0].address: 192.168.3.11 is outside the LAN" in str(raised.value)
    assert raised.value.__suppress_context__  # `from None`: no chained traceback either
    with pytest.raises(pulumi.RunError, match="DnsZones: invalid arguments:\n  - a problem"):
        refuse_invalid("DnsZones", ["a problem"])


def test_a_pulumi_cloud_backend_needs_no_passphrase(project: Path, tmp_path: Path, stub: tuple[Path, Path]) -> None:
    cloud = lab_env(stub, tmp_path, PULUMI_BACKEND_URL="https://api.pulumi.com")
    proc = run(["scripts/lab", "preview", "dev"], project, **cloud)
    assert proc.returncode == 0, proc.stderr
    assert stub[1].read_text() == "<unset>|<unset>"
