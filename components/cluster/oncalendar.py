"""systemd `OnCalendar=` expressions (systemd.time(7)), checked before any host sees them.

A timer with a bad expression fails to load on the host, long after `pulumi up` said
"done"; checking here turns that into a config error. The grammar is the documented
one: `[weekdays] [[year-]month-day] [hour:minute[:second]] [timezone]`, where each
number may be `*`, `a,b`, `a..b`, `a/step` or `~day` (from the month's end), plus the
shorthands (`daily`, `weekly`, ...). tests/unit compares it with `systemd-analyze
calendar` on a table of expressions when that binary is present.
"""

from __future__ import annotations

import re

SHORTHANDS = frozenset(
    {"minutely", "hourly", "daily", "monthly", "weekly", "yearly", "annually", "quarterly", "semiannually"}
)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {d: d for d in _DAYS} | {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}
_TZ = re.compile(r"^(UTC|GMT|[A-Z][A-Za-z_+-]*(/[A-Za-z0-9_+-]+)+)$")
_NUM = re.compile(r"^\d+$")


def _component(text: str, what: str, lo: int, hi: int, *, fraction: bool = False) -> str | None:
    """Why one date/time field is invalid (a list of values, ranges and repetitions), or None."""
    if text == "":
        return f"empty {what}"
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and (not _NUM.match(step) or int(step) == 0):
            return f"{what} repetition {part!r} needs a positive step"
        if base == "*":
            continue
        start, dots, end = base.partition("..")
        for value in (start, end) if dots else (start,):
            number = value
            if fraction and re.match(r"^\d+\.\d+$", value):
                number = value.split(".")[0]
            if not _NUM.match(number):
                return f"{what} {value!r} is not a number"
            if not lo <= int(number) <= hi:
                return f"{what} {value} is outside {lo}..{hi}"
        if dots and int(start.split(".")[0]) > int(end.split(".")[0]):
            return f"{what} range {base!r} runs backwards"
    return None


def _weekdays(text: str) -> str | None:
    for part in text.split(","):
        start, dots, end = part.partition("..")
        for day in (start, end) if dots else (start,):
            if day.lower() not in _DAY_NAMES:
                return f"{day!r} is not a weekday (Mon..Sun)"
        if dots and _DAYS.index(_DAY_NAMES[start.lower()]) > _DAYS.index(_DAY_NAMES[end.lower()]):
            return f"weekday range {part!r} runs backwards (weeks start on Monday)"
    return None


def _date(text: str) -> str | None:
    head, tilde, from_end = text.partition("~")  # month~day counts days from the month's end
    parts = head.split("-")
    names = ("year", "month") if tilde else ("year", "month", "day")
    if tilde:
        parts.append(from_end)
        names = ("year", "month", "day")
    if len(parts) not in (2, 3):
        return f"date {text!r} must be [year-]month-day or [year-]month~day"
    limits = {"year": (1970, 2199), "month": (1, 12), "day": (1, 31)}
    for value, name in zip(parts, names[-len(parts) :], strict=True):
        if problem := _component(value, name, *limits[name]):
            return problem
    return None


def _time(text: str) -> str | None:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        return f"time {text!r} must be hour:minute[:second]"
    limits = (("hour", 0, 23), ("minute", 0, 59), ("second", 0, 59))
    for i, (value, (name, lo, hi)) in enumerate(zip(parts, limits[: len(parts)], strict=True)):
        if problem := _component(value, name, lo, hi, fraction=i == 2):
            return problem
    return None


def calendar_problem(expression: str) -> str | None:
    """Why `expression` is not a valid OnCalendar value, or None when it is."""
    text = " ".join(expression.split())
    if not text:
        return "is empty"
    tokens = text.split(" ")
    if len(tokens) > 1 and _TZ.match(tokens[-1]):
        tokens = tokens[:-1]
    if len(tokens) == 1 and tokens[0].lower() in SHORTHANDS:
        return None
    seen: set[str] = set()
    for token in tokens:
        if ":" in token:
            kind, why = "time", _time(token)
        elif "-" in token or "~" in token:
            kind, why = "date", _date(token)
        elif token[:1].isalpha():
            kind, why = "weekday", _weekdays(token)
        else:
            return f"cannot read {token!r} (expected weekdays, a date like *-*-* or a time like 03:00)"
        if why:
            return why
        order = ("weekday", "date", "time")
        if kind in seen or any(later in seen for later in order[order.index(kind) + 1 :]):
            return f"{token!r} is out of place: the order is [weekdays] [date] [time] [timezone]"
        seen.add(kind)
    return None
