"""homelab's components as a Pulumi component plugin (usable from every Pulumi language).

Each plugin component (type `homelab:index:<Name>`) takes plugin-friendly inputs
(TypedDicts, enums, no unions), turns them into the component's args and creates the
real component (`homelab:<module>:<Name>`) as its only child. Where a component has a
declared model (components/<c>/model.py), the input TypedDicts are derived from it
(plugin/derive.py) and the inputs are read by it (components.model.parse).

No output shares its name with an input of another type (`clusterNodes`, not `nodes`):
a generated SDK fills an output the engine left out (preview, mocks) from the input
of the same name, and would then fail on the type.
"""

from pulumi import ComponentResource

from plugin.cluster import KubeadmCluster
from plugin.dns import DnsZones
from plugin.egress import EgressPolicies
from plugin.loadbalancer import LoadBalancer
from plugin.network import FlatNetwork
from plugin.tls import TlsSecrets

PACKAGE = "homelab"
COMPONENTS: list[type[ComponentResource]] = [
    KubeadmCluster,
    FlatNetwork,
    LoadBalancer,
    DnsZones,
    EgressPolicies,
    TlsSecrets,
]

__all__ = [
    "COMPONENTS",
    "PACKAGE",
    "DnsZones",
    "EgressPolicies",
    "FlatNetwork",
    "KubeadmCluster",
    "LoadBalancer",
    "TlsSecrets",
]
