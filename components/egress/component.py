"""EgressPolicies: Cilium FQDN egress allow-lists, one policy per workload selector."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.egress.check import args_problems
from components.egress.model import EgressPoliciesArgs
from components.egress.policy import render_policy
from components.kube import inherited_depends_on, refuse_invalid


class EgressPolicies(pulumi.ComponentResource):
    """One CiliumNetworkPolicy (or CiliumClusterwideNetworkPolicy) per policy.

    The CRDs come with Cilium: pass `depends_on=[<the Cilium chart>]` in opts; it is
    handed on to every policy. Children are named <name>-<namespace|cluster>-<policy>.
    """

    policies: pulumi.Output[list[str]]

    def __init__(self, name: str, args: EgressPoliciesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("homelab:egress:EgressPolicies", name, None, opts)
        refuse_invalid("EgressPolicies", args_problems(args))
        # A component's depends_on doesn't hold back its children: pass it on (CRDs first).
        deps = inherited_depends_on(opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=deps)

        refs: list[str] = []
        for policy in args.policies:
            obj = render_policy(policy, dns_namespace=args.dns_namespace, dns_labels=args.dns_labels)
            scope = "cluster" if policy.clusterwide else policy.namespace
            k8s.apiextensions.CustomResource(
                f"{name}-{scope}-{policy.name}",
                api_version=obj["apiVersion"],
                kind=obj["kind"],
                metadata=obj["metadata"],
                spec=obj["spec"],
                opts=child,
            )
            where = policy.name if policy.clusterwide else f"{policy.namespace}/{policy.name}"
            refs.append(f"{obj['kind']}/{where}")
        self.policies = pulumi.Output.from_input(refs)
        self.register_outputs({"policies": self.policies})
