"""Run a Pulumi program (or one component) under the SDK's mocks and record the graph.

Used by the tests and by scripts/render (the offline render of a stack).

The recorded graph keeps what the engine would see: type, name, parent, provider
reference, explicit and property dependencies, which inputs are secret, and the
options that hide outputs. Tests assert on that, never on the program's internals.
"""

from __future__ import annotations

import asyncio
import base64
import json
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dill
import pulumi
from google.protobuf import json_format
from pulumi.dynamic.dynamic import PROVIDER_KEY as DYNAMIC_PROVIDER_KEY
from pulumi.runtime import mocks as pmocks
from pulumi.runtime import rpc
from pulumi.runtime.stack import run_pulumi_func

ROOT = Path(__file__).resolve().parents[1]
SECRET_SIG = rpc._special_secret_sig
SIG_KEY = rpc._special_sig_key

OutputHook = Callable[[pmocks.MockResourceArgs], Mapping[str, Any] | None]
# The time dynamic providers see under mocks (2025-12-01T00:00:00Z).
MOCK_NOW = 1_764_547_200.0


@dataclass
class Registered:
    urn: str
    type: str
    name: str
    parent: str
    provider: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: dict[str, Any]
    secret_inputs: set[str]
    additional_secret_outputs: list[str]
    custom: bool
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def provider_urn(self) -> str:
        # Provider references are "<urn>::<id>".
        return self.provider.rsplit("::", 1)[0] if self.provider else ""

    def depends_on(self, urn: str) -> bool:
        if urn in self.dependencies:
            return True
        return any(urn in deps for deps in self.property_dependencies.values())


def _contains_secret(value: Any) -> bool:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return True
        return any(_contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return False


def _strip(value: Any) -> Any:
    """Plain values: secrets unwrapped, unknowns as None, resource refs as their URN."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return _strip(value.get("value"))
        if sig == rpc._special_resource_sig:
            return value.get("urn")
        if sig == rpc._special_asset_sig or sig == rpc._special_archive_sig:
            return {k: _strip(v) for k, v in value.items() if k != SIG_KEY}
        return {k: _strip(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if value == rpc.UNKNOWN:
        return None
    return value


class RecordingMonitor(pmocks.MockMonitor):
    def __init__(self, mocks: pmocks.Mocks) -> None:
        super().__init__(mocks)
        self.registered: list[Registered] = []
        self.stack_outputs: dict[str, Any] = {}
        self.stack_output_secrets: set[str] = set()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        self.registered.append(
            Registered(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                provider=request.provider,
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                inputs=_strip(raw),
                secret_inputs={k for k, v in raw.items() if _contains_secret(v)},
                additional_secret_outputs=list(request.additionalSecretOutputs),
                custom=request.custom,
                options={
                    "protect": request.protect,
                    "ignore_changes": list(request.ignoreChanges),
                    "replace_on_changes": list(request.replaceOnChanges),
                    "delete_before_replace": request.deleteBeforeReplace,
                    "retain_on_delete": request.retainOnDelete,
                    "aliases": [str(a) for a in request.aliases],
                },
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        if request.urn.split("::")[2] == "pulumi:pulumi:Stack":
            raw = json_format.MessageToDict(request.outputs, preserving_proto_field_name=True)
            self.stack_outputs = {k: _strip(v) for k, v in raw.items()}
            self.stack_output_secrets = {k for k, v in raw.items() if _contains_secret(v)}
        return super().RegisterResourceOutputs(request)


class DynamicProviders:
    """The engine's part for dynamic resources (`pulumi-python:dynamic...`): the resource's
    own provider runs here, `check` then `create` (or `update` when `state` holds the
    inputs of an earlier run, as in a second `pulumi up`). Its real code, not a stand-in.

    Pass one instance as a hook to several runs to carry the state from one to the next.
    A provider that reads the time does it through its `clock` attribute, which gets a
    fixed clock here, so that two runs of the same program register the same inputs.
    """

    def __init__(self, now: float = MOCK_NOW) -> None:
        self.state: dict[str, dict[str, Any]] = {}  # resource name -> the inputs `check` returned
        self.now = now

    def __call__(self, args: pmocks.MockResourceArgs) -> dict[str, Any] | None:
        if not args.typ.startswith("pulumi-python:dynamic"):
            return None
        news = dict(args.inputs)
        provider = dill.loads(base64.b64decode(news[DYNAMIC_PROVIDER_KEY]))
        if hasattr(provider, "clock"):
            provider.clock = lambda: self.now
        olds = self.state.get(args.name, {})
        checked = provider.check(olds, news)
        if checked.failures:
            raise ValueError(f"{args.name}: " + "; ".join(f"{f.property}: {f.reason}" for f in checked.failures))
        inputs = dict(checked.inputs)
        result = provider.update(f"{args.name}-id", olds, inputs) if olds else provider.create(inputs)
        self.state[args.name] = inputs
        return dict(result.outs or {})


class LabMocks(pmocks.Mocks):
    """Echo inputs as outputs; dynamic resources run their own provider (DynamicProviders);
    `hooks` add what a real provider would compute, and have the last word."""

    def __init__(self, hooks: list[OutputHook] | None = None, stack_outputs: Mapping[str, Any] | None = None) -> None:
        self.hooks: list[OutputHook] = [DynamicProviders(), *(hooks or [])]
        # What the engine's readStackOutputs answers: the stack's outputs from its last `up`.
        self.stack_outputs = dict(stack_outputs or {})

    def new_resource(self, args: pmocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        for hook in self.hooks:
            extra = hook(args)
            if extra:
                state.update(extra)
        return f"{args.name}-id", state

    def call(self, args: pmocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "pulumi:pulumi:readStackOutputs":
            return {"name": args.args.get("name"), "outputs": self.stack_outputs, "secretOutputNames": []}, []
        return {}, None


@dataclass
class ProgramRun:
    resources: list[Registered]
    outputs: dict[str, Any]
    secret_outputs: set[str]

    def by_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Registered:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name!r}, found {len(found)}"
        return found[0]

    def by_urn(self) -> dict[str, Registered]:
        return {r.urn: r for r in self.resources}

    def ancestors(self, r: Registered) -> list[Registered]:
        index = self.by_urn()
        out: list[Registered] = []
        while r.parent and r.parent in index:
            r = index[r.parent]
            out.append(r)
        return out


def run(
    program: Callable[[], Any],
    *,
    config: Mapping[str, Any] | None = None,
    secret_keys: list[str] | None = None,
    project: str = "homelab",
    stack: str = "test",
    preview: bool = False,
    hooks: list[OutputHook] | None = None,
    monitor: Callable[[pmocks.Mocks], RecordingMonitor] | None = None,
    stack_outputs: Mapping[str, Any] | None = None,
) -> ProgramRun:
    """Run `program` under mocks; config values that aren't strings are JSON-encoded.

    `stack_outputs`: the outputs the stack's last `up` left (read back by the program).

    `monitor` makes the monitor from the mocks (tools.hostrun runs commands in it).
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # the mock Stack and every Output bind to the current loop
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (config or {}).items()}
    pulumi.runtime.set_all_config(encoded, secret_keys or [])
    recorder = (monitor or RecordingMonitor)(LabMocks(hooks, stack_outputs))
    # A fresh root stack per run: the last run's is bound to its closed loop.
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(recorder.mocks, project=project, stack=stack, preview=preview, monitor=recorder)
    # Outputs made outside a run (e.g. by settings tests) would be awaited forever.
    pulumi.runtime.settings.SETTINGS.outputs.clear()
    try:
        try:
            loop.run_until_complete(run_pulumi_func(program))
        except BaseException as err:
            # Tests check that a failing program registered nothing.
            err.registered = list(recorder.registered)  # type: ignore[attr-defined]
            raise
        outputs, secrets = loop.run_until_complete(_exports())
    finally:
        loop.close()
        # Code after the run (e.g. settings tests making Outputs) needs an open loop.
        asyncio.set_event_loop(asyncio.new_event_loop())
    return ProgramRun(recorder.registered, outputs, secrets)


async def _exports() -> tuple[dict[str, Any], set[str]]:
    """The values given to pulumi.export, resolved, with the names of the secret ones.

    Under mocks the root stack is finished before the program runs, so exports are
    read from it here rather than from a RegisterResourceOutputs call.
    """
    root = pulumi.runtime.get_root_resource()
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    for name, value in getattr(root, "outputs", {}).items():
        out = pulumi.Output.from_input(value)
        values[name] = _plain(await out.future(with_unknowns=True))
        if await out.is_secret():
            secrets.add(name)
    return values, secrets


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, pulumi.output.Unknown):
        return None
    return value


def run_main(**kwargs: Any) -> ProgramRun:
    """Run the project's real `__main__.py`."""
    return run(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"), **kwargs)
