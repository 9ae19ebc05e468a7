"""The editor schema of the stack file: committed, current, named by the example stacks,
and it catches what a newcomer typed (a misspelt `homelab:` key)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
import yaml

from lab.settings import KEYS
from lab.stack_schema import MODELINE, REGENERATE, SCHEMA_FILE, rendered, stack_schema
from tests.support.stacks import STACKS, stack_file


def errors(doc: Any) -> list[str]:
    validator = jsonschema.Draft7Validator(stack_schema())
    return sorted(e.message for e in validator.iter_errors(doc))


def test_the_committed_schema_is_current() -> None:
    assert SCHEMA_FILE.is_file(), f"{SCHEMA_FILE} is missing: run {REGENERATE}"
    assert SCHEMA_FILE.read_text() == rendered(), f"{SCHEMA_FILE.name} is stale: run {REGENERATE}"
    jsonschema.Draft7Validator.check_schema(json.loads(SCHEMA_FILE.read_text()))


@pytest.mark.parametrize("stack", STACKS)
def test_example_stacks_name_the_schema_and_pass_it(stack: str) -> None:
    text = stack_file(stack).read_text()
    assert text.splitlines()[0] == MODELINE
    # The modeline's path is relative to the stack file: the schema sits beside it.
    assert (stack_file(stack).parent / MODELINE.split("=", 1)[1]).resolve() == SCHEMA_FILE
    assert errors(yaml.safe_load(text)) == []


def test_a_misspelt_key_is_flagged_and_other_namespaces_are_left_alone() -> None:
    doc = yaml.safe_load(stack_file("prod").read_text())
    typo = copy.deepcopy(doc)
    typo["config"]["homelab:loadbalancer"] = typo["config"].pop("homelab:loadBalancer")
    typo["config"]["kubernetes:context"] = "lab"  # another provider's key: not ours
    (message,) = errors(typo)
    assert "'homelab:loadbalancer'" in message


def test_every_key_the_program_reads_is_known_and_secure_values_pass() -> None:
    config = {f"homelab:{key}": {} for key in KEYS}
    config["homelab:egress"] = []
    config["homelab:nodes"] = [{"name": "cp01"}]
    config["homelab:ssh"] = {"user": "lab", "privateKey": {"secure": "v1:abc"}}
    assert errors({"config": config, "secretsprovider": "awskms://alias/homelab"}) == []
    assert errors({"config": {"homelab:egress": {"secure": "v1:abc"}}}) == []
    assert errors({"config": {"homelab:egress": "not a list"}}) != []
