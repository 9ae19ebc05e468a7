"""DnsZones: the lab's own zones and forward zones in kubeadm's CoreDNS."""

from components.dns.component import ROLLOUT_ANNOTATION, DnsZones, service_ip
from components.dns.model import DnsZonesArgs, ForwardZone, ServiceRef, Zone

__all__ = ["ROLLOUT_ANNOTATION", "DnsZones", "DnsZonesArgs", "ForwardZone", "ServiceRef", "Zone", "service_ip"]
