"""Reusable Pulumi components for a flat-network kubeadm home lab.

Each subpackage holds one component, its typed arguments and the pure renderers it
uses. Nothing here reads stack config: callers pass settings objects or plain args.
"""
