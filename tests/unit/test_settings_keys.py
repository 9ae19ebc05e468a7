"""Top-level `homelab:` keys: a misspelt one is refused with the key it was meant to be."""

from __future__ import annotations

import pytest

from components.validation import ConfigError
from lab.settings import KEYS, build_settings


def _problems(raw: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        build_settings(raw, set())
    return [str(p) for p in exc.value.problems]


@pytest.mark.parametrize(("typed", "meant"), [("loadbalancer", "loadBalancer"), ("egres", "egress"), ("node", "nodes")])
def test_a_misspelt_key_names_the_key_it_was_meant_to_be(typed: str, meant: str) -> None:
    (line,) = [p for p in _problems({typed: {}}) if p.startswith(f"homelab:{typed}:")]
    assert f"did you mean homelab:{meant}?" in line and ", ".join(KEYS) in line


def test_a_key_like_no_other_gets_the_list_alone() -> None:
    (line,) = [p for p in _problems({"zzzz": 1}) if p.startswith("homelab:zzzz:")]
    assert "did you mean" not in line and "known: lan, cluster" in line
