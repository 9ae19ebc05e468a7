"""A file zone's SOA serial, kept in the Pulumi state: it changes only when the zone does,
and then only upwards.

A serial computed from the content alone (a hash) goes down on some edits, and a date
(YYYYMMDDnn) needs to know the last one given out. So the last serial and the digest of
the content it was given for live in the state, in a small dynamic resource. Its
provider's `check` (run at preview and at up, with the previous inputs) keeps the serial
while the digest is unchanged; on a change it takes the time of the change in seconds
since the epoch, or the previous serial + 1 if that is not greater. The new serial is
known at preview. docs/dns-egress-tls.md explains the choice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, Resource, ResourceProvider, UpdateResult

# RFC 1035 serials are unsigned 32-bit; seconds since the epoch fit until 2106.
SERIAL_MAX = 2**32 - 1


def next_serial(previous: int | None, now: int) -> int:
    """The serial for changed content: `now`, unless that is not above the previous one."""
    serial = now if previous is None else max(previous + 1, now)
    if not 1 <= serial <= SERIAL_MAX:
        raise ValueError(f"SOA serial {serial} is outside 1..{SERIAL_MAX}")
    return serial


def _number(value: Any) -> int | None:
    # Numbers travel through the engine as doubles: 1764600000.0.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def checked_serial(olds: Mapping[str, Any], news: Mapping[str, Any], now: int) -> int:
    """The serial for `news` given the inputs in the state (`olds`; empty on create)."""
    previous = _number(olds.get("serial"))
    if previous is not None and olds.get("digest") == news.get("digest"):
        return previous
    return next_serial(previous, now)


class ZoneSerialProvider(ResourceProvider):
    """Runs in the `pulumi-python` dynamic provider (the project's own virtualenv)."""

    serialize_as_secret_always = False  # nothing secret in it; keeps the diff readable
    # Seconds since the epoch; the mock runtime sets a fixed clock so runs repeat exactly.
    clock: Callable[[], float] = staticmethod(time.time)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult({**news, "serial": checked_serial(olds, news, int(self.clock()))}, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=str(props["zone"]), outs=props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=news)


class ZoneSerial(Resource, module="dns", name="ZoneSerial"):
    """The SOA serial of one file zone; `digest` is a hash of everything else in the zone."""

    serial: pulumi.Output[int]
    digest: pulumi.Output[str]

    def __init__(
        self, name: str, zone: str, digest: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(ZoneSerialProvider(), name, {"zone": zone, "digest": digest, "serial": None}, opts)
