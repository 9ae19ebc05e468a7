"""Renew kubeadm's certificates on every control plane, one at a time.

    scripts/lab renew-certs <stack> [--stack-file FILE]

On each control plane, over SSH as root: `kubeadm certs renew all`, then the static
pods are restarted so they load the new certificates, and the next control plane waits
until this one's API server is ready again (etcd keeps its quorum). Stops at the first
failure, naming the node. Afterwards refresh the stack's admin kubeconfig:
`pulumi up --target-replace <urn of <cluster>-kubeconfig>`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from components.cluster.cert_expiry import renew_script
from components.cluster.host_scripts import SUDO_BASH
from tools.stack_targets import StackError, add_stack_arguments, open_stack_or_say


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/lab renew-certs", description=__doc__.split("\n\n")[0])
    add_stack_arguments(ap)
    args = ap.parse_args(argv)
    stack = open_stack_or_say("renew-certs", args)
    if stack is None:
        return 2
    script = renew_script(stack.settings.cluster.api_port)
    with stack.keyring() as keys:
        for target in stack.control_planes():
            print(f"== {target.name} ({target.address})", flush=True)
            try:
                argv_ = [*keys.ssh_argv(target), SUDO_BASH]
            except StackError as err:
                print(f"homelab renew-certs: {target.name}: {err}", file=sys.stderr)
                return 1
            res = subprocess.run(argv_, input=script, text=True, check=False, timeout=900)
            if res.returncode != 0:
                print(f"homelab renew-certs: FAILED on {target.name}; the control planes after it were not touched")
                return 1
    print("homelab renew-certs: done; now `pulumi up --target-replace <urn of the <cluster>-kubeconfig command>`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
