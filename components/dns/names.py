"""DNS name rules shared by the zones, the egress patterns and the certificate SANs.

Each check returns why a value is bad (a sentence for the user) or None, so callers can
report it under their own config key and keep going.
"""

from __future__ import annotations

import ipaddress
import re

LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
MAX_NAME = 253


def looks_like_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def label_problem(label: str) -> str | None:
    if not label:
        return "has an empty label (two dots in a row, or a leading dot)"
    if len(label) > 63:
        return f"label {label!r} is longer than 63 characters"
    if not LABEL.match(label):
        return f"label {label!r} may hold only a-z, 0-9 and '-', and must start and end with a letter or digit"
    return None


def dns_name_problem(name: str, *, wildcard: bool = False) -> str | None:
    """Why `name` is not a lowercase DNS name written without the trailing dot.

    With `wildcard`, a `*` is allowed as the whole leftmost label (`*.k8s.intra`).
    """
    if not isinstance(name, str) or not name:
        return "is empty"
    if name != name.lower():
        return f"{name!r} must be written in lowercase"
    if name.endswith("."):
        return f"{name!r}: write it without the trailing dot"
    if looks_like_ip(name):
        return f"{name!r} is an IP address, not a DNS name"
    if len(name) > MAX_NAME:
        return f"{name!r} is longer than {MAX_NAME} characters"
    labels = name.split(".")
    for i, label in enumerate(labels):
        if label == "*" and wildcard and i == 0:
            if len(labels) < 2:
                return "a bare '*' is not a name; write '*.<domain>'"
            continue
        if "*" in label:
            where = "only as the whole leftmost label ('*.example')" if wildcard else "not at all"
            return f"{name!r}: a wildcard '*' is allowed {where}"
        problem = label_problem(label)
        if problem:
            return f"{name!r}: {problem}"
    return None


def within(name: str, zone: str) -> bool:
    """True when `name` is `zone` itself or a name below it."""
    return name == zone or name.endswith("." + zone)
