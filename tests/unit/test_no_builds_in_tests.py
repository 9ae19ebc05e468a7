"""The test command starts no long build on its own: a missing binary is a loud skip that
names the command building it (the builds run in CI's budgeted phase, or by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit import test_plugin_sdk


def test_a_missing_schema_binder_skips_with_its_build_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A `go` that would record being run: the test run must not start the build.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    ran = tmp_path / "go-ran"
    (bindir / "go").write_text(f"#!/bin/sh\ntouch {ran}\nexit 1\n")
    (bindir / "go").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    monkeypatch.setenv("HOMELAB_TOOLCHAIN_DIR", str(tmp_path / "toolchain"))
    with pytest.raises(pytest.skip.Exception) as skipped:
        test_plugin_sdk.schemacheck()
    assert test_plugin_sdk.BUILD_COMMAND in str(skipped.value)
    assert not ran.exists(), "the test run started the Go build"
    # The build command itself does build (here: reaches `go`, which fails loudly).
    with pytest.raises(RuntimeError, match="go mod init schemacheck"):
        test_plugin_sdk.build_schemacheck()
    assert ran.exists()


def test_ci_builds_the_schema_binder_in_its_budgeted_phase() -> None:
    ci = (Path(test_plugin_sdk.ROOT) / ".ci" / "run").read_text()
    build = ci.index(test_plugin_sdk.BUILD_COMMAND.removeprefix(".venv/bin/python ").split()[-1])
    assert build < ci.index("scripts/setup && scripts/test")
