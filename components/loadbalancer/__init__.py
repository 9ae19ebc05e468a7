"""LoadBalancer: MetalLB pools and L2/BGP announcements on the home LAN."""

from components.loadbalancer.component import LoadBalancer
from components.loadbalancer.model import AddressPool, BgpSession, LoadBalancerArgs, MetalLbChart
from components.loadbalancer.validation import check_pool_conflicts

__all__ = ["AddressPool", "BgpSession", "LoadBalancer", "LoadBalancerArgs", "MetalLbChart", "check_pool_conflicts"]
