"""`homelab:egress` → EgressPoliciesArgs: a list of FQDN allow-lists for selected pods.

    homelab:egress:
      - {name: net-to-intra, namespace: default, selector: {app: net}, allow: ["*.k8s.intra"]}
      - name: updates
        namespace: apps
        selector: {app: updater}
        allow: [api.github.com, "*.debian.org"]
        ports: [443, {port: 80, protocol: TCP}]   # default: any port; a bare number is TCP
        dns: all            # all (default): may look up any name | allowed: only the allowed ones
      - {name: lab-only, clusterwide: true, selector: {tier: sandbox}, allow: ["*.k8s.intra"]}

Optional per entry: `clusterwide`, `allowAll` (accept a bare "*"), `description`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.egress.model import EgressPoliciesArgs, EgressPolicy, duplicate_policies, key_of, raw_policy_rules
from components.model import parse
from components.validation import Problems
from components.versions import CILIUM_VERSION
from lab.context import LabContext

KEY = "homelab:egress"


def parse_egress(
    raw: Any,
    ctx: LabContext,
    problems: Problems,
    *,
    cilium_version: str = CILIUM_VERSION,
    dns_reject_code: str | None = None,
) -> EgressPoliciesArgs | None:
    """None when the section is absent or has errors (reported to `problems`).

    `cilium_version` is the Cilium that enforces the policies (homelab:network's chart);
    `dns_reject_code` its DNS proxy's answer for refused lookups, to warn when `dns: allowed`
    would break resolvers that stop at REFUSED.
    """
    del ctx  # egress rules don't depend on the LAN facts
    if raw is None:
        return None
    if not isinstance(raw, list):
        problems.error(KEY, f"must be a list of policies, got {type(raw).__name__}")
        return None
    before = len(problems.errors)
    context = {"cilium_version": cilium_version}
    policies: list[EgressPolicy] = []
    # Checked on the raw values, so an entry with other errors still reports a clash.
    clashes = dict(duplicate_policies(raw, KEY))
    for i, praw in enumerate(raw):
        key = f"{KEY}[{i}]"
        if not isinstance(praw, Mapping):
            problems.error(key, f"must be a mapping (name, namespace, selector, allow...), got {type(praw).__name__}")
            continue
        policy = parse(EgressPolicy, praw, key, problems, context=context)
        if policy is None:  # its rules across fields did not run: run them on what is valid
            for loc, message in raw_policy_rules(praw, context):
                problems.error(key_of(key, loc), message)
        if i in clashes:
            problems.error(f"{key}.name", clashes[i])
            continue
        if policy is None:
            continue
        policies.append(policy)
        if not policy.clusterwide and not policy.selector:
            problems.warn(
                f"{key}.selector", f"no selector: the policy applies to every pod in namespace {policy.namespace}"
            )
        if policy.dns == "allowed" and dns_reject_code == "refused":
            problems.warn(
                f"{key}.dns",
                "Cilium's DNS proxy answers REFUSED to lookups outside the list, and some resolvers "
                "(musl, as in Alpine images) then give up on the whole search path; set "
                "homelab:network.dnsProxy.rejectResponseCode: nameError",
            )
    if len(problems.errors) > before:
        return None
    return EgressPoliciesArgs(policies=tuple(policies), cilium_version=cilium_version)
