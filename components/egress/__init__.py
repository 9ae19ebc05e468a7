"""EgressPolicies: which pods may reach which DNS names (Cilium toFQDNs)."""

from components.egress.component import EgressPolicies
from components.egress.model import EgressPoliciesArgs, EgressPolicy, Port

__all__ = ["EgressPolicies", "EgressPoliciesArgs", "EgressPolicy", "Port"]
