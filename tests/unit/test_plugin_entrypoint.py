"""plugin/__main__.py started the way the language host starts it: `python <plugin dir> <engine>`.

The process must print its gRPC port and answer GetPluginInfo/GetSchema with the
package version and the schema the host infers in-process. It runs from another
directory, so it also proves the entry point finds the components on its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from plugin import COMPONENTS, PACKAGE
from plugin.version import package_version
from tests.support.harness import ROOT


@pytest.fixture(scope="module")
def plugin_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # The engine address is only dialled on Construct; schema requests never reach it.
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "plugin"), "127.0.0.1:1"],
        cwd=tmp_path_factory.mktemp("elsewhere"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline() if proc.stdout else ""))
    reader.start()
    reader.join(timeout=60)
    try:
        if not line or not line[0].strip().isdigit():
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"the plugin printed no port: {line!r}\n{err[-2000:]}")
        yield int(line[0])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def stub(plugin_port: int) -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    with grpc.insecure_channel(f"127.0.0.1:{plugin_port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        yield provider_pb2_grpc.ResourceProviderStub(channel)


def test_plugin_reports_the_package_version(stub: provider_pb2_grpc.ResourceProviderStub) -> None:
    info = stub.GetPluginInfo(empty_pb2.Empty(), timeout=30)
    assert info.version == package_version(ROOT)


def test_plugin_serves_the_inferred_schema(stub: provider_pb2_grpc.ResourceProviderStub) -> None:
    served = json.loads(stub.GetSchema(provider_pb2.GetSchemaRequest(), timeout=60).schema)
    expected = ComponentProvider(COMPONENTS, PACKAGE, None, package_version(ROOT)).schema
    assert expected is not None
    assert served == json.loads(expected)
    assert served["name"] == "homelab" and len(served["resources"]) == 6


def test_entry_point_puts_this_checkout_first() -> None:
    source = (ROOT / "plugin" / "__main__.py").read_text()
    assert "sys.path.insert(0, str(ROOT))" in source
    assert Path(ROOT / "plugin" / "__main__.py").resolve().parents[1] == ROOT
