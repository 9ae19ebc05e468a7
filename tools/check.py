"""Preflight check of a stack's machines: read-only, over SSH, one report grouped by node.

    scripts/lab check <stack> [--pin-host-keys] [--stack-file FILE]

Each node gets one probe script (components/cluster/preflight_probe.py) through the system `ssh` with
the stack's key and, where the stack pins one, its host key; the rules
(components/cluster/preflight_rules.py) then judge every node, and the nodes against each other. The
exit status is 1 when any finding is fatal, 2 when the stack itself is unusable.

`--pin-host-keys` writes each node's current ed25519 host key (from `ssh-keyscan`) as
`homelab:nodes[i].ssh.hostKey` into the stack file, keeping its comments, and prints
every pin it writes. A pin that differs from the host's key is never overwritten.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from pathlib import Path

from components.cluster.preflight_probe import parse_facts, probe_script
from components.cluster.preflight_rules import NodeProbe, evaluate, fatal_count, format_report
from tools.stack_targets import KeyRing, Stack, StackError, Target, add_stack_arguments, open_stack, open_stack_or_say


def keyscan(address: str, port: int, timeout: int = 5) -> str:
    """The host's ed25519 key as `ssh-ed25519 AAAA...`, or '' when none came back."""
    try:
        res = subprocess.run(
            ["ssh-keyscan", "-T", str(timeout), "-p", str(port), "-t", "ed25519", address],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout + 5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and not line.startswith("#"):
            return f"{parts[1]} {parts[2]}"
    return ""


def probe_node(keys: KeyRing, target: Target, prepare: bool, timeout: float) -> NodeProbe:
    n = NodeProbe(name=target.name, address=target.address, role=target.role, prepare=prepare)
    n.host_key_pinned = target.host_key or ""
    try:
        argv = keys.ssh_argv(target)
    except StackError as err:  # nothing is sent to a host the tool cannot log in to
        n.error = str(err)
        return n
    n.host_key_seen = keyscan(target.address, target.port)
    n.sent_at = time.time()
    try:
        res = subprocess.run(
            [*argv, "bash -s"], input=probe_script(), capture_output=True, text=True, check=False, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        n.error = f"no answer within {timeout:.0f} s"
        return n
    n.done_at = time.time()
    if res.returncode == 255 or "probe=" not in res.stdout:
        reason = res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"ssh exited {res.returncode}"
        n.error = f"unreachable as {target.user}@{target.address}:{target.port}: {reason}"
        return n
    n.facts = parse_facts(res.stdout)
    return n


def run_check(stack: str, path: Path, *, timeout: float = 60) -> tuple[list[NodeProbe], float, list[Target]]:
    return check_stack(open_stack(stack, path), timeout=timeout)


def check_stack(stack: Stack, *, timeout: float = 60) -> tuple[list[NodeProbe], float, list[Target]]:
    settings = stack.settings
    nodes = stack.targets()
    prepare = {n.name: n.prepare for n in settings.cluster.nodes}
    lan = settings.network.lan_attachment
    t0 = time.monotonic()
    with stack.keyring() as keys, ThreadPoolExecutor(max_workers=min(16, len(nodes))) as pool:
        probes = list(pool.map(lambda t: probe_node(keys, t, prepare[t.name], timeout), nodes))
    evaluate(probes, lan.interface if lan is not None else None)
    return probes, time.monotonic() - t0, nodes


def pin_host_keys_text(text: str, pins: Mapping[str, str]) -> tuple[str, list[str]]:
    """The stack file with `ssh.hostKey` set on the named nodes (comments kept), and what changed.

    A node that already pins a different key is left alone and reported.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    doc = yaml.load(text)
    nodes = doc["config"]["homelab:nodes"]
    notes: list[str] = []
    for i, node in enumerate(nodes):
        key = pins.get(str(node.get("name")))
        if not key:
            continue
        ssh = node.get("ssh")
        current = ssh.get("hostKey") if ssh else None
        if current and current.split()[:2] == key.split()[:2]:
            continue
        if current:
            notes.append(f"homelab:nodes[{i}].ssh.hostKey: NOT changed: the stack pins another key than the host shows")
            continue
        if ssh is None:
            ssh = CommentedMap()
            if getattr(node, "fa", None) is not None and node.fa.flow_style():
                ssh.fa.set_flow_style()
            node["ssh"] = ssh
        ssh["hostKey"] = key
        notes.append(f"homelab:nodes[{i}].ssh.hostKey ({node['name']}): {key}")
    out = StringIO()
    yaml.dump(doc, out)
    return out.getvalue(), notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/lab check", description=__doc__.split("\n\n")[0])
    add_stack_arguments(ap)
    ap.add_argument("--pin-host-keys", action="store_true", help="write the hosts' keys into the stack file")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per node")
    args = ap.parse_args(argv)
    stack = open_stack_or_say("check", args)
    if stack is None:
        return 2
    path = stack.path
    probes, seconds, _ = check_stack(stack, timeout=args.timeout)
    sys.stdout.write(format_report(args.stack, probes, seconds))
    if args.pin_host_keys:
        pins = {p.name: p.host_key_seen for p in probes if p.host_key_seen}
        new_text, notes = pin_host_keys_text(path.read_text(), pins)
        if new_text != path.read_text():
            path.write_text(new_text)
        for note in notes:
            print(f"pinned: {note}" if "NOT" not in note else note)
        if not notes:
            print("pinned: nothing to change")
    return 1 if fatal_count(probes) else 0


if __name__ == "__main__":
    sys.exit(main())
