"""Tests on real local machines (scripts/lab machines): systemd-nspawn containers on a test bridge."""
