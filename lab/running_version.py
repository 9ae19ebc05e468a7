"""The Kubernetes version the stack's cluster runs, as its last completed `up` left it.

The stack exports `kubernetesVersion` once every node has been rolled to it (the last
upgrade step's completion), so a failed or interrupted rollout leaves the version it
started from. Before anything is registered, the program reads that output of its own
stack through the engine's built-in `pulumi:pulumi:readStackOutputs` (what a
StackReference uses, answered synchronously), so a skipped minor or a downgrade is
refused with the other validation problems, in the preview too. Hosts check again with
what they run (components/cluster/upgrade.py), for stacks that have no such output yet.
"""

from __future__ import annotations

import re

import pulumi
from pulumi.runtime import invoke

OUTPUT = "kubernetesVersion"
READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def own_stack_name() -> str:
    return f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"


def read_running_version() -> str | None:
    """The version recorded by the last completed `up`, or None (a new stack, or no record)."""
    try:
        result = invoke(READ_STACK_OUTPUTS, {"name": own_stack_name()})
    except Exception as exc:  # the engine could not read its own state: leave it to the hosts
        pulumi.log.debug(f"homelab: the stack's {OUTPUT} output could not be read ({type(exc).__name__})")
        return None
    outputs = (result.value or {}).get("outputs") or {}
    value = outputs.get(OUTPUT)
    return value if isinstance(value, str) and _VERSION.match(value) else None
