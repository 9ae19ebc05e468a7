"""Take an etcd snapshot now, on one control plane, and print where it went.

    scripts/lab backup <stack> [--node NAME] [--etcd-tools host]

It sends the same script the snapshot timer runs (components/cluster/backup.py), for
the stack's `homelab:backup` (or its defaults when the stack has none), over SSH as
root (`sudo -n`). It needs no Pulumi CLI and no state, and works whether or not the
timer is installed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

from components.cluster.backup import EtcdBackup, snapshot_script
from components.cluster.host_scripts import SUDO_BASH
from tools.stack_targets import StackError, add_stack_arguments, open_stack_or_say

WHERE = re.compile(r"^homelab: snapshot (?P<path>\S+) (?P<bytes>\d+) bytes$", re.M)


def snapshot_location(stdout: str) -> tuple[str, int] | None:
    """(path, size) from the script's last report line."""
    found = WHERE.findall(stdout)
    return (found[-1][0], int(found[-1][1])) if found else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/lab backup", description=__doc__.split("\n\n")[0])
    add_stack_arguments(ap)
    ap.add_argument("--node", help="control plane to snapshot (default: the first one)")
    ap.add_argument(
        "--etcd-tools",
        choices=["container", "host"],
        default="container",
        help="run etcdctl/etcdutl in the etcd container (default) or from the host's PATH",
    )
    args = ap.parse_args(argv)
    stack = open_stack_or_say("backup", args)
    if stack is None:
        return 2
    settings = stack.settings
    control_planes = stack.control_planes()
    if args.node:
        chosen = [t for t in control_planes if t.name == args.node]
        if not chosen:
            names = ", ".join(t.name for t in control_planes)
            print(f"homelab backup: {args.node!r} is not a control plane of {args.stack} ({names})", file=sys.stderr)
            return 2
        target = chosen[0]
    else:
        target = control_planes[0]
    backup = settings.backup or EtcdBackup()
    if settings.backup is None:
        print(f"homelab backup: no homelab:backup in the stack; using {backup.directory}", file=sys.stderr)
    try:
        with stack.keyring() as keys:
            res = subprocess.run(
                [*keys.ssh_argv(target), SUDO_BASH],
                input=snapshot_script(backup, target.name, tools=args.etcd_tools),
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
    except StackError as err:
        print(f"homelab backup: {target.name}: {err}", file=sys.stderr)
        return 2
    sys.stderr.write(res.stderr)
    where = snapshot_location(res.stdout)
    if res.returncode != 0 or where is None:
        sys.stdout.write(res.stdout)
        print(f"homelab backup: snapshot on {target.name} ({target.address}) FAILED (exit {res.returncode})")
        return 1
    sys.stdout.write(res.stdout)
    print(f"{target.name}:{where[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
