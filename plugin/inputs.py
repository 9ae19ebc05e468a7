"""Reading the inputs the component provider host hands to a plugin component.

The host (pulumi.provider.experimental) gives `__init__` a plain dict: snake_case keys,
absent keys for omitted inputs, enum members for enum-typed inputs, and floats for the
items of `list[int]`. A top-level input that carries a secret or a dependency arrives as
one Output whose inner keys were NOT renamed; structure we build resources from must be
known when the component is constructed, so such a value is refused with its path.

No `from __future__ import annotations` in the plugin modules: the host reads the
`args` annotation and the class annotations at runtime, unevaluated.
"""

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, NotRequired, TypedDict

import pulumi

from components.validation import Problems


class PluginInputError(ValueError):
    """Every problem found in one component's inputs, each with its input path."""

    def __init__(self, component: str, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{component}: invalid inputs ({len(self.problems)} problem(s)):\n{lines}")


def raise_if_any(component: str, problems: Problems) -> None:
    if problems.errors:
        raise PluginInputError(component, (str(p) for p in problems.errors))


def find_outputs(value: Any, path: str, inputs_ok: frozenset[str] = frozenset()) -> list[str]:
    """Paths inside `value` that hold an Output, skipping dict keys listed in `inputs_ok`."""
    if isinstance(value, pulumi.Output):
        return [path]
    found: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k not in inputs_ok:
                found += find_outputs(v, f"{path}.{k}" if path else str(k), inputs_ok)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found += find_outputs(v, f"{path}[{i}]", inputs_ok)
    return found


def check_plain(args: Mapping[str, Any], problems: Problems, inputs_ok: frozenset[str] = frozenset()) -> None:
    """Report every Output where a plain value is needed (resource names, rendered config)."""
    for path in find_outputs(args, "", inputs_ok):
        problems.error(
            path,
            "must be a plain value known when the component is constructed (it names resources or is "
            "rendered into configuration); pass it without secret() and not from another resource's output",
        )


def text(value: Any) -> str:
    """A string input; enum members (the host's form for enum-typed inputs) give their value."""
    return str(value.value) if isinstance(value, Enum) else str(value)


def integer(value: Any, key: str, problems: Problems, *, lo: int | None = None, hi: int | None = None) -> int:
    """Integers travel as floats on the wire; 6443.0 is 6443, 6443.5 is a problem."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.error(key, f"{value!r} is not a number")
        return 0
    if not number.is_integer():
        problems.error(key, f"{value!r} is not a whole number")
        return 0
    n = int(number)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        problems.error(key, f"{n} is outside {lo}..{hi}")
    return n


def optional_text(value: Any) -> str | None:
    """A string input that may be absent; empty counts as absent."""
    return text(value) if value not in (None, "") else None


def strings(value: Any) -> tuple[str, ...]:
    return tuple(text(v) for v in (value or ()))


def child_options(parent: pulumi.Resource, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """Options for the wrapped component: under the wrapper, holding the caller's depends_on.

    Providers come down the parent chain; depends_on does not, and our components hand
    the one they receive on to their children (e.g. CRs waiting for the chart).
    """
    return pulumi.ResourceOptions(parent=parent, depends_on=opts.depends_on if opts is not None else None)


class ChartSource(TypedDict):
    """Where a Helm chart comes from: a repository and pinned version, or a local chart."""

    repo: NotRequired[str]
    """Chart repository URL (default: the upstream repository)."""
    version: NotRequired[str]
    """Chart version (default: the version this package pins)."""
    path: NotRequired[str]
    """A local chart directory or .tgz; wins over repo and version (offline runs)."""
