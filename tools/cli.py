"""homelab: the lab's daily commands (scripts/lab and scripts/render are thin wrappers of this).

Each command dispatches to its module in tools/ (or lab/); nothing here does the work.
Heavy imports (pulumi, the program) happen only in the command that needs them, so
`--help` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RENDER_DESCRIPTION = """\
Render a stack offline (no cluster, credentials or Pulumi service) into a tree.

  render <stack> [--out DIR]           (default build/render/<stack>)
  render <stack> --diff BASE           render, then print what changed from the tree BASE
  render --diff BASE HEAD [--markdown] compare two rendered trees (as `diff`)
"""

# Commands whose module parses its own arguments (and prints its own --help).
DELEGATED: dict[str, tuple[str, str]] = {
    "check": ("tools.check", "read-only preflight of a stack's machines over SSH (--pin-host-keys)"),
    "backup": ("tools.etcd_backup", "an etcd snapshot now, on one control plane; prints where it went"),
    "renew-certs": ("tools.renew_certs", "kubeadm certs renew all, one control plane at a time"),
    "machines": ("tools.machines", "local machines on this box: up|status|down|image|ssh (root, Linux)"),
    "hostrun": ("tools.hostrun", "up|destroy|kubeconfig <stack>: the host scripts over SSH, without the engine"),
    "schema": ("lab.stack_schema", "write config/homelab.schema.json (--check: fail if it is stale)"),
}
PULUMI_HELP = {
    "preview": "pulumi preview of a stack (falls back to the offline render without a usable CLI)",
    "up": "pulumi up of a stack (`up local` makes the local machines first)",
    "destroy": "pulumi destroy of a stack",
    "refresh": "pulumi refresh of a stack",
}


def say(message: str) -> None:
    print(f"homelab: {message}", file=sys.stderr)


def _add_render_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("stack", nargs="?", help="the stack: config/Pulumi.<stack>.yaml")
    p.add_argument("--out", type=Path, help="where the tree goes (default build/render/<stack>)")
    p.add_argument("--diff", nargs="+", type=Path, metavar="DIR", help="BASE (with a stack) or BASE HEAD (without)")
    p.add_argument("--markdown", action="store_true", help="print the diff as Markdown (for a PR comment)")


def _add_diff_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", type=Path, help="the rendered tree before")
    p.add_argument("head", type=Path, help="the rendered tree after")
    p.add_argument("--markdown", action="store_true", help="print the diff as Markdown (for a PR comment)")


def diff(base: Path, head: Path, *, markdown: bool) -> int:
    from tools.render_diff import compare, format_changes

    try:
        changes = compare(base, head)
    except NotADirectoryError as err:
        say(f"--diff: {err}")
        return 2
    sys.stdout.write(format_changes(changes, markdown=markdown))
    return 0


def render_stack(stack: str, out: Path) -> int:
    import pulumi

    from tools.render import StackNotFound, render

    try:
        run = render(stack, out)
    except StackNotFound as err:
        say(str(err))
        return 2
    except pulumi.RunError as err:
        # A validation error (every problem with its key): the message is the whole story.
        say(f"stack {stack}: {err}")
        return 1
    print(f"homelab: rendered {len(run.resources)} resources of stack {stack} into {out}")
    return 0


def _render(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if not args.stack:
        if not args.diff:
            parser.error("a stack name, or --diff BASE HEAD")
        if len(args.diff) != 2:
            parser.error("--diff without a stack compares two trees: --diff BASE HEAD")
        return diff(*args.diff, markdown=args.markdown)
    if args.diff and len(args.diff) != 1:
        parser.error("--diff with a stack takes one tree, BASE, to compare the new render with")
    out = args.out or ROOT / "build" / "render" / args.stack
    status = render_stack(args.stack, out)
    if status or not args.diff:
        return status
    return diff(args.diff[0], out, markdown=args.markdown)


def render_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description=RENDER_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _add_render_args(p)
    return p


def render_main(argv: Sequence[str], prog: str = "homelab render") -> int:
    """`homelab render …`, also what scripts/render runs."""
    parser = render_parser(prog)
    return _render(parser.parse_args(argv), parser)


def parser(prog: str = "homelab") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="The lab's daily commands: the offline render, pulumi on a stack, the day-two tools,"
        " local machines. `homelab <command> --help` tells more.",
        formatter_class=lambda prog: argparse.HelpFormatter(prog, max_help_position=30),
    )
    sub = p.add_subparsers(dest="command", metavar="<command>", required=True)
    sub.add_parser(
        "render",
        help="render a stack offline into a tree (no cluster, no credentials)",
        description=RENDER_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,  # render_main parses its own arguments (and --help)
    )
    d = sub.add_parser(
        "diff",
        help="the per-object changes between two rendered trees",
        description="The per-object changes between two rendered trees (BASE to HEAD).",
    )
    _add_diff_args(d)
    for action, text in PULUMI_HELP.items():
        a = sub.add_parser(action, help=text, description=f"{text[0].upper()}{text[1:]}.")
        a.add_argument("stack", help="the stack: config/Pulumi.<stack>.yaml")
        a.add_argument("pulumi_args", nargs=argparse.REMAINDER, help="passed on to pulumi (e.g. --yes)")
    for name, (_, text) in DELEGATED.items():
        # Parsed by the module itself (see main): listed here for `homelab --help`.
        sub.add_parser(name, help=text, add_help=False)
    return p


@contextlib.contextmanager
def _argv(argv: list[str]) -> Iterator[None]:
    """For a module whose main() reads sys.argv itself."""
    saved = sys.argv
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv = saved


def _delegate(name: str, rest: list[str], prog: str) -> int:
    import importlib

    module = importlib.import_module(DELEGATED[name][0])
    # The tools read config/ and write build files relative to the project, as scripts/lab ran them.
    os.chdir(ROOT)
    if name == "schema":
        with _argv([f"{prog} schema", *rest]):
            return module.main()
    return module.main(rest)


def main(argv: Sequence[str] | None = None, prog: str = "homelab") -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in DELEGATED:
        return _delegate(args[0], args[1:], prog)
    if args and args[0] == "render":
        return render_main(args[1:], prog=f"{prog} render")
    ns = parser(prog).parse_args(args)
    if ns.command == "diff":
        return diff(ns.base, ns.head, markdown=ns.markdown)
    from tools import pulumi_run

    def render(rest: Sequence[str]) -> int:
        return render_main(rest, prog=f"{prog} render")

    return pulumi_run.run(ns.command, ns.stack, ns.pulumi_args, render=render)


if __name__ == "__main__":
    sys.exit(main())
