"""The SOA serial's rule, alone: kept while the zone is unchanged, up on every change."""

from __future__ import annotations

import pytest

from components.dns.serial import SERIAL_MAX, ZoneSerialProvider, checked_serial, next_serial

NOW = 1_764_600_000  # 2025-12-01, seconds since the epoch


def test_a_new_zone_takes_the_time_of_its_creation() -> None:
    assert checked_serial({}, {"digest": "a"}, NOW) == NOW


def test_unchanged_content_keeps_its_serial_whatever_the_clock() -> None:
    olds = {"digest": "a", "serial": NOW - 5000}
    assert checked_serial(olds, {"digest": "a"}, NOW) == NOW - 5000
    assert checked_serial(olds, {"digest": "a"}, NOW + 10**6) == NOW - 5000


def test_changed_content_takes_the_time_of_the_change() -> None:
    assert checked_serial({"digest": "a", "serial": NOW - 5000}, {"digest": "b"}, NOW) == NOW


def test_a_clock_behind_the_last_serial_still_goes_up() -> None:
    # Two edits in one second, or a clock set back: previous + 1.
    assert checked_serial({"digest": "a", "serial": NOW}, {"digest": "b"}, NOW) == NOW + 1
    assert checked_serial({"digest": "a", "serial": NOW}, {"digest": "b"}, NOW - 3600) == NOW + 1


def test_an_edit_and_its_undo_both_go_up() -> None:
    # A content hash would give the undo the first serial back: lower than the edit's.
    first = checked_serial({}, {"digest": "a"}, NOW)
    edit = checked_serial({"digest": "a", "serial": first}, {"digest": "b"}, NOW)
    undo = checked_serial({"digest": "b", "serial": edit}, {"digest": "a"}, NOW)
    assert first < edit < undo


def test_numbers_from_the_state_arrive_as_doubles() -> None:
    assert checked_serial({"digest": "a", "serial": float(NOW)}, {"digest": "a"}, 0) == NOW
    assert isinstance(checked_serial({"digest": "a", "serial": float(NOW)}, {"digest": "a"}, 0), int)


def test_the_serial_stays_a_32_bit_number() -> None:
    assert next_serial(SERIAL_MAX - 1, 0) == SERIAL_MAX
    with pytest.raises(ValueError, match="outside 1..4294967295"):
        next_serial(SERIAL_MAX, 0)


def test_the_provider_check_fills_in_the_serial_and_create_keeps_it() -> None:
    provider = ZoneSerialProvider()
    checked = provider.check({}, {"zone": "lab.intra", "digest": "a", "serial": None})
    assert checked.failures == [] and isinstance(checked.inputs["serial"], int) and checked.inputs["serial"] > NOW
    created = provider.create(checked.inputs)
    assert created.id == "lab.intra" and created.outs == checked.inputs
    again = provider.check(checked.inputs, {"zone": "lab.intra", "digest": "a", "serial": None})
    assert again.inputs["serial"] == checked.inputs["serial"]
    assert provider.update("lab.intra", checked.inputs, again.inputs).outs == again.inputs
