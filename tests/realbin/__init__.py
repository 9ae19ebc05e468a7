"""Tests against real binaries built by scripts/toolchain (marked `realbin`)."""
