"""A readable, per-object change list between two render trees (base → head)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Change:
    kind: str  # "added" | "removed" | "changed"
    path: str
    diff: tuple[str, ...] = ()


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def compare(base: Path, head: Path) -> list[Change]:
    """Changes from `base` to `head`; both must be directories (a missing one is an error,
    not an empty render: that would list every object as added or removed)."""
    for side, root in (("base", base), ("head", head)):
        if not root.is_dir():
            raise NotADirectoryError(
                f"{side} {root} is not a directory (render it first: scripts/render <stack> --out {root})"
            )
    a, b = _files(base), _files(head)
    changes: list[Change] = []
    for path in sorted(set(a) | set(b)):
        if path not in a:
            changes.append(Change("added", path))
        elif path not in b:
            changes.append(Change("removed", path))
        elif a[path] != b[path]:
            diff = difflib.unified_diff(
                a[path].splitlines(), b[path].splitlines(), f"base/{path}", f"head/{path}", n=2, lineterm=""
            )
            changes.append(Change("changed", path, tuple(diff)))
    return changes


SIGN = {"added": "+", "removed": "-", "changed": "~"}


def format_changes(changes: list[Change], *, markdown: bool = False, max_lines: int = 60) -> str:
    if not changes:
        return "No change in the rendered stack.\n"
    counts = {k: sum(1 for c in changes if c.kind == k) for k in SIGN}
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    out: list[str] = [f"{len(changes)} rendered object(s) differ: {summary}", ""]
    for c in changes:
        out.append(f"{SIGN[c.kind]} {c.path}" if not markdown else f"- `{SIGN[c.kind]}` `{c.path}`")
        if c.diff:
            body = list(c.diff[2:])  # drop the ---/+++ header: the path is above
            shown = body[:max_lines] + ([f"... {len(body) - max_lines} more line(s)"] if len(body) > max_lines else [])
            if markdown:
                out += ["", "  ```diff", *[f"  {line}" for line in shown], "  ```"]
            else:
                out += [f"    {line}" for line in shown]
    return "\n".join(out) + "\n"
