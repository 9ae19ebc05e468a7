"""EgressPolicies for other Pulumi languages: inputs derived from EgressPoliciesArgs, read by the model."""

from collections.abc import Mapping
from typing import Any

import pulumi

from components.egress.component import EgressPolicies as RealEgressPolicies
from components.egress.model import (
    EgressPoliciesArgs,
    EgressPolicy,
    Port,
    duplicate_policies,
    key_of,
    raw_policy_rules,
)
from components.model import parse, plain
from components.validation import Problems
from plugin.derive import plugin_inputs
from plugin.inputs import check_plain, child_options, raise_if_any

TOKEN = "homelab:index:EgressPolicies"

EgressPoliciesArgsInput = plugin_inputs(
    EgressPoliciesArgs,
    "EgressPoliciesArgsInput",
    names={EgressPolicy: "EgressPolicySettings", Port: "EgressPortSettings"},
)


def egress_policies_args(args: Mapping[str, Any]) -> EgressPoliciesArgs:
    """The real component's EgressPoliciesArgs; every problem in the inputs at once (PluginInputError)."""
    problems = Problems()
    check_plain(args, problems)
    raise_if_any("EgressPolicies", problems)
    version = plain(args).get("cilium_version") or EgressPoliciesArgs.model_fields["cilium_version"].default
    context = {"cilium_version": version}
    result = parse(EgressPoliciesArgs, plain(args), "", problems, context=context)
    policies = plain(args).get("policies")
    if result is None and isinstance(policies, list):  # the rules the model did not reach
        for i, raw in enumerate(policies):
            for loc, message in raw_policy_rules(raw, context) if isinstance(raw, Mapping) else []:
                problems.error(key_of(f"policies[{i}]", loc), message)
        for i, message in duplicate_policies(policies, "policies"):
            problems.error(f"policies[{i}].name", message)
    raise_if_any("EgressPolicies", problems)
    assert result is not None  # no problems: the model validated
    return result


class EgressPolicies(pulumi.ComponentResource):
    """FQDN egress allow-lists: one CiliumNetworkPolicy (or clusterwide policy) per policy.

    The CRDs come with Cilium: pass the cluster's Kubernetes provider and depend on the
    network in the resource options.
    """

    policy_refs: pulumi.Output[list[str]]
    """Kind/namespace/name of every policy written."""

    def __init__(self, name: str, args: EgressPoliciesArgsInput, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TOKEN, name, None, opts)
        inner = RealEgressPolicies(name, egress_policies_args(args), opts=child_options(self, opts))
        self.policy_refs = inner.policies
        self.register_outputs({"policyRefs": self.policy_refs})
