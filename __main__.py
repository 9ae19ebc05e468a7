"""The home lab, composed: settings first, then each component in order, then outputs."""

from __future__ import annotations

import pulumi

from components.cluster.component import KubeadmCluster
from components.validation import ConfigError
from lab.settings import load

try:
    settings = load()
except ConfigError as err:
    # Nothing is registered: the whole list of problems, then stop.
    raise pulumi.RunError(str(err)) from None
for warning in settings.warnings:
    pulumi.log.warn(str(warning))

cluster = KubeadmCluster(settings.cluster.name, settings.cluster)

pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("apiEndpoint", cluster.api_endpoint)
pulumi.export("caCertificate", cluster.ca_certificate)
pulumi.export("nodes", cluster.nodes)
