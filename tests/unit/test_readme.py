"""The README is the front door: the commands it gives exist, and its keys are the schema's."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_scripts_named_in_the_readme_exist_and_run() -> None:
    named = set(re.findall(r"\bscripts/[a-z][a-z-]*", README))
    assert {"scripts/lab", "scripts/setup", "scripts/test", "scripts/render", "scripts/toolchain"} <= named
    for script in named:
        path = ROOT / script
        assert path.is_file(), f"README names {script}, which does not exist"
        if not script.endswith("-env"):
            assert os.access(path, os.X_OK), f"{script} is not executable"


def test_ci_runs_the_readme_test_command() -> None:
    assert "scripts/setup && scripts/test" in README
    assert re.search(r"^scripts/setup && scripts/test$", (ROOT / ".ci" / "run").read_text(), re.M)


def test_documented_keys_are_the_project_config_schema() -> None:
    schema = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    documented = set(re.findall(r"`homelab:([a-zA-Z]+)`", README))
    assert documented <= set(schema), documented - set(schema)
    for key, decl in schema.items():
        assert {"type", "description", "default"} <= set(decl), key
        assert f"homelab:{key}" in README, f"README does not mention homelab:{key}"


def test_docs_linked_from_the_readme_exist() -> None:
    for doc in set(re.findall(r"docs/[a-z-]+\.md", README)):
        assert (ROOT / doc).is_file(), doc


def _layout() -> list[tuple[int, str]]:
    """(indent, first path) of each line of the README's Layout block."""
    block = README.split("## Layout", 1)[1].split("```", 2)[1]
    out = []
    for line in block.strip("\n").splitlines():
        indent = len(line) - len(line.lstrip())
        if line.strip() and indent <= 4:  # deeper: a description running on
            out.append((indent, line.split()[0].rstrip(",")))
    return out


def _project_files() -> list[str]:
    """Tracked and new files, without what git ignores (.venv, build/, caches)."""
    proc = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.skip("not a git checkout: the layout check needs `git ls-files`")
    return [f for f in proc.stdout.splitlines() if (ROOT / f).exists()]


def test_layout_names_only_what_exists() -> None:
    parent = ROOT
    for indent, path in _layout():
        if path.startswith("(") or not re.match(r"[\w./-]+$", path):
            continue
        base = ROOT if indent == 0 else parent
        assert (base / path).exists(), f"README's layout names {path}, which is not in the tree"
        if indent == 0:
            parent = ROOT / path.split("/")[0]


def test_layout_names_every_top_level_directory_and_package() -> None:
    named = {p.rstrip("/") for _, p in _layout()} | {p.split("/")[0] for _, p in _layout()}
    files = _project_files()
    tops = {f.split("/")[0] for f in files if "/" in f}
    assert not tops - named, f"the README's layout misses {sorted(tops - named)}"
    for pkg in ("components", "tests"):
        subdirs = {f.split("/")[1] for f in files if f.startswith(f"{pkg}/") and f.count("/") >= 2}
        missing = {d for d in subdirs if d not in named and f"{pkg}/{d}" not in named}
        assert not missing, f"the README's layout misses {pkg}/: {sorted(missing)}"
