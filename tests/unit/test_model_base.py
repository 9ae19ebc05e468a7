"""components.model: raw config → a model, every problem under its full key, in our words."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import pytest
from pydantic import AfterValidator, ValidationInfo, model_validator

from components.model import Flag, Int, Model, between, fail, lenient, non_empty, parse, plain, problem
from components.validation import Problems

KEY = "homelab:x"


class Kind(StrEnum):
    """A choice."""

    A = "a"
    """The first."""
    B = "b"
    """The second."""


def _label(value: str) -> str:
    if not value.islower():
        raise problem("label", f"{value!r} must be lowercase")
    return value


class Item(Model):
    """An item."""

    name: Annotated[str, AfterValidator(_label)]
    """Its name."""
    addresses: Annotated[tuple[str, ...], non_empty("needs at least one address")]
    """Its addresses."""
    auto_assign: Flag = True
    """A flag."""


class Peer(Model):
    """Reads the validation context."""

    address: str

    @model_validator(mode="before")
    @classmethod
    def _from_context(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and "address" not in data and info.context:
            return {**data, "address": info.context["gateway"]}
        return data


class Section(Model):
    """A section."""

    items: tuple[Item, ...] = ()
    kind: Kind = Kind.A
    port: Annotated[Int, between(1, 65535)] = 6443
    labels: dict[str, Item] = {}
    peer: Peer | None = None

    @model_validator(mode="after")
    def _unique(self) -> Section:
        seen: set[str] = set()
        found = []
        for i, item in enumerate(self.items):
            if item.name in seen:
                found.append((("items", i, "name"), f"{item.name} is listed twice"))
            seen.add(item.name)
        fail(found)
        return self


def errors(raw: Any, **kw: Any) -> dict[str, str]:
    problems = Problems()
    assert parse(Section, raw, KEY, problems, **kw) is None
    return {p.key: p.message for p in problems.errors}


def test_a_valid_mapping_gives_the_model_with_snake_case_fields() -> None:
    problems = Problems()
    section = parse(Section, {"items": [{"name": "a", "addresses": ["x"], "autoAssign": False}]}, KEY, problems)
    assert not problems.errors and section is not None
    assert section.items[0].auto_assign is False and section.kind == "a"
    assert parse(Section, None, KEY, problems) == Section()  # an absent section is an empty mapping


def test_every_problem_at_once_under_its_full_key() -> None:
    raw = {
        "items": [{"name": "A", "addresses": [], "autoAssign": "yes"}, {"adresses": ["x"]}],
        "kind": "c",
        "port": 0,
        "labels": {"web.lab": {"name": "web", "addresses": "x"}},
        "prot": 1,
    }
    assert errors(raw) == {
        "homelab:x.items[0].name": "'A' must be lowercase",
        "homelab:x.items[0].addresses": "needs at least one address",
        "homelab:x.items[0].autoAssign": "must be true or false, got 'yes'",
        "homelab:x.items[1].name": "is required",
        "homelab:x.items[1].addresses": "is required: needs at least one address",
        "homelab:x.items[1].adresses": "unknown setting (did you mean addresses? allowed: addresses, autoAssign, name)",
        "homelab:x.kind": "must be one of a, b, got 'c'",
        "homelab:x.port": "must be between 1 and 65535, got 0",
        "homelab:x.labels[web.lab].addresses": "must be a list, got str",
        "homelab:x.prot": "unknown setting (did you mean port? allowed: items, kind, labels, peer, port)",
    }


def test_types_are_worded_like_before() -> None:
    assert errors({"items": "x"}) == {"homelab:x.items": "must be a list, got str"}
    assert errors({"port": True}) == {"homelab:x.port": "must be an integer, got True"}
    assert errors({"port": 6443.5})["homelab:x.port"].startswith("must be an integer")
    assert errors({"peer": "x"}) == {"homelab:x.peer": "must be a mapping, got str"}
    assert errors([1]) == {"homelab:x": "must be a mapping, got list"}


def test_integral_floats_are_integers_and_numbers_are_strings() -> None:
    # The plugin wire carries integers as floats; YAML reads `version: 1.2` as a number.
    section = Section.model_validate({"port": 8443.0, "items": [{"name": "a", "addresses": [1.2]}]})
    assert section.port == 8443 and section.items[0].addresses == ("1.2",)


def test_a_model_validator_reports_each_culprit_under_its_key() -> None:
    item = {"name": "a", "addresses": ["x"]}
    assert errors({"items": [item, item, {**item, "name": "b"}, item]}) == {
        "homelab:x.items[1].name": "a is listed twice",
        "homelab:x.items[3].name": "a is listed twice",
    }


def test_the_context_reaches_nested_validators() -> None:
    problems = Problems()
    section = parse(Section, {"peer": {}}, KEY, problems, context={"gateway": "192.168.2.1"})
    assert section is not None and section.peer == Peer(address="192.168.2.1")
    assert errors({"peer": {}}) == {"homelab:x.peer.address": "is required"}


def test_positional_construction_like_the_dataclasses() -> None:
    assert Item("a", ("x",)) == Item(name="a", addresses=("x",), auto_assign=True)
    with pytest.raises(ValueError, match="must be lowercase"):
        Item("A", ("x",))
    with pytest.raises(TypeError):
        Item("a", ("x",), True, "extra")


def test_models_are_frozen_and_hashable() -> None:
    item = Item("a", ("x",))
    with pytest.raises(ValueError):
        item.name = "b"  # type: ignore[misc]
    assert {item: 1}[Item("a", ("x",))] == 1


def test_lenient_and_plain() -> None:
    assert lenient(Item, {"name": "A"}) is None
    assert lenient(Item, {"name": "a", "addresses": ["x"]}) == Item("a", ("x",))
    assert plain({"kind": Kind.B, "items": [Kind.A]}) == {"kind": "b", "items": ["a"]}


def test_an_empty_key_gives_plugin_paths() -> None:
    problems = Problems()
    parse(Section, {"items": [{"name": "a"}]}, "", problems)
    assert [str(p) for p in problems.errors] == ["items[0].addresses: is required: needs at least one address"]


def test_descriptions_come_from_field_docstrings() -> None:
    assert Item.model_fields["name"].description == "Its name."
    assert Item.model_json_schema(by_alias=True)["properties"]["autoAssign"]["description"] == "A flag."
    assert Section.model_json_schema()["properties"]["port"]["maximum"] == 65535
