"""The README is the front door: the commands it gives exist, and its keys are the schema's."""

from __future__ import annotations

import os
import re
from pathlib import Path

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
