"""The editor schema of the stack file: committed, current, named by the example stacks,
and it catches what a newcomer typed (a misspelt `homelab:` key)."""

from __future__ import annotations

import copy
import json
from typing import Any, get_args

import jsonschema
import pytest
import yaml
from pydantic import RootModel

from lab.settings import KEYS
from lab.stack_schema import (
    MODELINE,
    README,
    REGENERATE,
    SCHEMA_FILE,
    SECTIONS,
    readme_table,
    readme_with_table,
    rendered,
    stack_schema,
)
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
    config["homelab:nodes"] = [{"name": "cp01", "address": "192.168.2.11"}]  # required keys
    config["homelab:lan"] = {"cidr": "192.168.2.0/24", "gateway": "192.168.2.1"}  # required keys
    config["homelab:ssh"] = {"user": "lab", "privateKey": {"secure": "v1:abc"}}
    assert errors({"config": config, "secretsprovider": "awskms://alias/homelab"}) == []
    assert errors({"config": {"homelab:egress": {"secure": "v1:abc"}}}) == []
    assert errors({"config": {"homelab:egress": "not a list"}}) != []


def test_the_readme_key_table_is_current() -> None:
    text = README.read_text()
    assert readme_with_table(text) == text, f"README.md's key table is stale: run {REGENERATE}"


def test_registered_sections_are_keys_the_program_reads() -> None:
    assert set(SECTIONS) == set(KEYS), "every key the program reads is declared by a model"
    table = readme_table()
    for key, model in SECTIONS.items():
        if issubclass(model, RootModel):  # a list section: its items' keys under `key[]`
            item = get_args(model.model_fields["root"].annotation)[0]
            assert all(f"`homelab:{key}[].{f.alias}`" in table for f in item.model_fields.values()), key
            continue
        for field in model.model_fields.values():
            assert f"`homelab:{key}.{field.alias}`" in table, (key, field.alias)


def prod_with(section: str, value: Any) -> dict[str, Any]:
    doc = yaml.safe_load(stack_file("prod").read_text())
    doc["config"][f"homelab:{section}"] = value
    return doc


def test_inside_a_model_section_a_typo_or_a_bad_value_is_flagged() -> None:
    pool = {"name": "lan", "adresses": ["192.168.2.240-192.168.2.250"]}
    assert errors(prod_with("loadBalancer", {"pools": [pool]})) != []
    assert errors(prod_with("loadBalancer", {"pools": [], "mode": "arp"})) != []
    assert errors(prod_with("loadBalancer", {"pools": [], "bgp": {"myAsn": 0, "peerAsn": 1, "peerAddress": "x"}})) != []
    assert errors(prod_with("dns", {"zones": [{"name": "k8s.intra", "ttl": 0}]})) != []
    assert errors(prod_with("dns", {"zones": [{"name": "k8s.intra", "records": {"a": {"svc": "x/y"}}}]})) != []


def test_inside_a_model_section_the_stack_forms_pass() -> None:
    dns = {
        "zones": [{"name": "k8s.intra", "type": "file", "records": {"a": "192.168.2.5", "b": {"service": "ns/b"}}}],
        "forward": {"home.lan": "192.168.2.1", "corp.lan": ["10.0.0.1", "10.0.0.2"]},
    }
    assert errors(prod_with("dns", dns)) == []
    # A secret leaf sits in the file encrypted.
    lb = {"pools": [{"name": "lan", "addresses": [{"secure": "v1:abc"}]}], "chart": {"repo": {"secure": "v1:x"}}}
    assert errors(prod_with("loadBalancer", lb)) == []
