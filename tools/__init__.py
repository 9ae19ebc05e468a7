"""Tools that run on the operator's box (not part of the Pulumi program): local machines."""
