"""The GitHub Actions workflows: actionlint-clean and shaped as the README promises."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


def actionlint() -> str | None:
    cached = Path(os.environ.get("HOMELAB_BIN", Path.home() / ".cache/homelab/bin")) / "actionlint"
    return shutil.which("actionlint") or (str(cached) if cached.exists() else None)


def test_actionlint() -> None:
    tool = actionlint()
    if tool is None:
        pytest.skip(
            "actionlint not built: GOBIN=~/.cache/homelab/bin "
            "go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"
        )
    result = subprocess.run(
        [tool, "-shellcheck=" + (shutil.which("shellcheck") or ""), *sorted(map(str, WORKFLOWS.glob("*.yml")))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_preview_per_stack_with_comment() -> None:
    wf = load("preview.yml")
    assert "pull_request" in wf["on"]
    preview = wf["jobs"]["pulumi-preview"]
    step = next(s for s in preview["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert step["with"]["command"] == "preview" and step["with"]["comment-on-pr"] is True
    assert "matrix.stack" in step["with"]["stack-name"]
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    # forks get the render diff, never the secrets
    assert "head.repo.full_name == github.repository" in preview["if"]


def test_render_diff_for_every_pull_request() -> None:
    wf = load("preview.yml")
    job = wf["jobs"]["render-diff"]
    assert "if" not in job
    script = "\n".join(s.get("run", "") for s in job["steps"])
    assert "scripts/render" in script and "--diff" in script and "--markdown" in script
    comment = load("render-comment.yml")
    assert comment["on"]["workflow_run"]["workflows"] == ["preview"]
    assert comment["permissions"]["pull-requests"] == "write"


def test_up_on_main_behind_environments() -> None:
    wf = load("up.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    job = wf["jobs"]["up"]
    assert job["environment"] == "${{ matrix.stack }}"
    stacks = sorted(p.name.split(".")[1] for p in (ROOT / "config").glob("Pulumi.*.yaml"))
    assert sorted(job["strategy"]["matrix"]["stack"]) == stacks
    step = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert step["with"]["command"] == "up"
