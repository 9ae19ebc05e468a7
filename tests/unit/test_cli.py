"""The `homelab` command (tools/cli.py): installed with the package, `--help` everywhere,
the same render as scripts/render, and plain messages for a bad or missing stack."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.project_copy import BAD_ADDRESS, copy_project
from tools import cli

ROOT = Path(cli.__file__).resolve().parents[1]
HOMELAB = ROOT / ".venv" / "bin" / "homelab"
COMMANDS = [
    "render",
    "diff",
    "preview",
    "up",
    "destroy",
    "refresh",
    "check",
    "backup",
    "renew-certs",
    "machines",
    "hostrun",
    "schema",
]


def homelab(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HOMELAB), *args], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300
    )


def test_the_command_is_installed_with_the_package() -> None:
    (entry,) = importlib.metadata.entry_points(group="console_scripts", name="homelab")
    assert entry.value == "tools.cli:main"
    assert HOMELAB.is_file() and os.access(HOMELAB, os.X_OK), "no .venv/bin/homelab: run scripts/setup"


def test_help_lists_every_command_with_its_line() -> None:
    proc = homelab("--help")
    assert proc.returncode == 0, proc.stderr
    listed: dict[str, str] = {}
    for line in proc.stdout.split("<command>\n", 1)[1].split("\n\n")[0].splitlines():
        if named := re.match(r"^    (\S+)(?: +(.*))?$", line):
            listed[named[1]] = named[2] or ""
        else:  # the description wrapped onto the next line
            listed[list(listed)[-1]] += " " + line.strip()
    assert sorted(listed) == sorted(COMMANDS)
    assert all(len(text) > 10 for text in listed.values()), listed


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, tmp_path: Path) -> None:
    proc = homelab(command, "--help", cwd=tmp_path)  # from anywhere, not only the project
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: ") and proc.stderr == ""
    # A one-line description under the usage, not just the argument list.
    description = proc.stdout.split("\n\n")[1]
    assert description.strip() and not description.startswith(("positional", "options")), proc.stdout


def test_machines_help_lists_its_subcommands() -> None:
    proc = homelab("machines", "--help")
    assert proc.returncode == 0
    for sub in ("up", "status", "down", "image", "ssh"):
        assert re.search(rf"^\s+{sub}\s", proc.stdout, re.M), sub
    up = homelab("machines", "up", "--help")
    assert up.returncode == 0 and "--nodes" in up.stdout


def test_an_unknown_command_is_a_usage_error() -> None:
    proc = homelab("deploy", "dev")
    assert proc.returncode == 2 and "invalid choice: 'deploy'" in proc.stderr and "Traceback" not in proc.stderr


def test_render_is_the_same_as_scripts_render(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "homelab", tmp_path / "script"
    proc = homelab("render", "dev", "--out", str(ours))
    assert proc.returncode == 0, proc.stderr
    script = subprocess.run(
        [str(ROOT / "scripts" / "render"), "dev", "--out", str(theirs)], capture_output=True, text=True, timeout=300
    )
    assert script.returncode == 0, script.stderr
    assert proc.stdout.replace(str(ours), "OUT") == script.stdout.replace(str(theirs), "OUT")
    assert re.match(r"homelab: rendered \d+ resources of stack dev into OUT$", proc.stdout.replace(str(ours), "OUT"))
    files = sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(theirs) for p in theirs.rglob("*") if p.is_file())
    assert all((ours / f).read_bytes() == (theirs / f).read_bytes() for f in files)
    # And --diff against a tree: nothing changed between two renders of the same stack.
    again = homelab("render", "dev", "--out", str(tmp_path / "again"), "--diff", str(ours))
    assert again.returncode == 0 and "No change" in again.stdout, again.stdout + again.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the program with a stack `bad` (an address outside the LAN)."""
    return copy_project(tmp_path / "project")


def in_copy(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The copy's own tools.cli (the directory first on sys.path), so it reads the copy's config/.
    return subprocess.run(
        [sys.executable, "-m", "tools.cli", *args],
        cwd=project,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_an_invalid_stack_is_its_problems_and_no_traceback(project: Path) -> None:
    proc = in_copy(project, "render", "bad", "--out", str(project / "out"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.startswith("homelab: stack bad: invalid configuration (1 problem(s)):"), proc.stderr
    assert BAD_ADDRESS in proc.stderr
    assert "Traceback" not in proc.stderr and 'File "' not in proc.stderr, proc.stderr
    assert not (project / "out").exists()


@pytest.mark.parametrize("command", ["render", "preview", "up", "destroy", "refresh"])
def test_an_unknown_stack_is_one_line(command: str) -> None:
    proc = homelab(command, "nosuch")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "Pulumi.nosuch.yaml" in line and line.startswith("homelab: ")


def test_pulumi_commands_need_a_stack() -> None:
    # `up` or `destroy` of a default stack would be a surprise: only scripts/lab defaults to dev.
    proc = homelab("destroy")
    assert proc.returncode == 2 and "the following arguments are required: stack" in proc.stderr
