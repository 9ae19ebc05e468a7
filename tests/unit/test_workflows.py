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


def committed_stacks() -> list[str]:
    """The stacks whose files are in git: a developer's own or generated (ignored) stack
    file in config/ changes nothing here."""
    proc = subprocess.run(
        ["git", "ls-files", "--", "config/Pulumi.*.yaml"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    files = proc.stdout.split() if proc.returncode == 0 and proc.stdout.strip() else []
    paths = [Path(f) for f in files] or list((ROOT / "config").glob("Pulumi.*.yaml"))  # not a git checkout
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in paths)


def preview_stack_list(checkout: Path) -> list[str]:
    """What preview.yml's `stacks` job lists for a checkout (its own shell step, run here)."""
    step = next(s for s in load("preview.yml")["jobs"]["stacks"]["steps"] if s.get("id") == "list")
    out = checkout / "github-output"
    subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=checkout,
        env={"GITHUB_OUTPUT": str(out), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    (line,) = out.read_text().splitlines()
    return list(yaml.safe_load(line.removeprefix("stacks=")))


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
    # the home network's runner, where the cluster's API is reachable (the same as `up`)
    assert preview["runs-on"] == load("up.yml")["jobs"]["up"]["runs-on"] == ["self-hosted", "homelab"]
    # and no SSH key is written for a preview
    assert not [s for s in preview["steps"] if "SSH_PRIVATE_KEY" in str(s.get("env", {}))]


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
    # `up` is opt-in per stack (README: "A stack of your own"): every stack it names has a
    # committed stack file, dev first; other stack files (yours, or a generated local one)
    # are not required to be in it.
    matrix = job["strategy"]["matrix"]["stack"]
    assert set(matrix) <= set(committed_stacks()), set(matrix) - set(committed_stacks())
    assert matrix[0] == "dev" and "prod" in matrix
    step = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert step["with"]["command"] == "up"


def test_a_new_stack_file_gets_its_preview_and_render_diff(tmp_path: Path) -> None:
    if shutil.which("jq") is None:
        pytest.skip("jq is missing (the workflow's runner has it): apt-get install jq")
    (tmp_path / "config").mkdir()
    for stack in ("dev", "prod", "garage"):
        (tmp_path / "config" / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    assert preview_stack_list(tmp_path) == ["dev", "garage", "prod"]
    # The render-diff and preview jobs both take their matrix from that list.
    jobs = load("preview.yml")["jobs"]
    for name in ("render-diff", "pulumi-preview"):
        assert jobs[name]["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}", name
