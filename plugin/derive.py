"""The plugin's input types, derived from a component's model instead of declared again.

The component provider host (pulumi.provider.experimental) infers the package schema
from type annotations: TypedDicts, enums, `pulumi.Input`, no unions, and it reads each
property's description from the docstring under it in the class's *source*. So a model
becomes the Python source of TypedDicts (field docstrings = the model's descriptions),
executed into a module whose source `inspect.getsource` can find (linecache and a
loader's get_source). The derived classes are ordinary TypedDicts for the host.

    DnsZonesArgsInput = plugin_inputs(DnsZonesArgs, "DnsZonesArgsInput", names={Zone: "DnsZoneSettings"})

Rules: a field with a default (or `X | None`) is NotRequired; tuple/list → list; a
nested model → its own TypedDict (named by `names`, else `<Model>Settings`); a StrEnum
is used as is (its members' docstrings document the values); an `Annotated[..., PluginAs(T)]`
field takes T's input type instead (a union in the model → one object with optional
members); `Annotated[..., PluginInput]` marks a value that may be an Output.
"""

import importlib.abc
import linecache
import sys
import textwrap
import types
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, NotRequired, TypedDict, Union, get_args, get_origin

import pulumi
from pydantic import BaseModel

from components.model import PluginAs, PluginInput


class _Source(importlib.abc.InspectLoader):
    def __init__(self, source: str) -> None:
        self.source = source

    def get_source(self, fullname: str) -> str:
        return self.source

    def get_code(self, fullname: str) -> Any:
        return compile(self.source, fullname, "exec")


@dataclass(frozen=True)
class Extra:
    """A plugin input that is no field of the model (a secret key, a value the stack derives)."""

    type_: Any  # an annotation: str, pulumi.Input[str], dict[str, pulumi.Input[str]], ...
    description: str
    required: bool = False


def plugin_inputs(
    model: type[BaseModel], name: str, *, names: dict[Any, Any] | None = None, extra: dict[str, Extra] | None = None
) -> Any:
    """A TypedDict named `name` for `model`'s fields (and one per nested model), with their docs.

    `extra` adds inputs to the top-level TypedDict only (declared here, not by subclassing:
    the host reads a property's description from the source of the class it analyses).
    """
    gen = _Generator(names or {})
    gen.typed_dict(model, name, extra or {})
    module_name = f"{model.__module__}_plugin_inputs_{name}"
    filename = f"{sys.modules[model.__module__].__file__}::{name}"
    source = "\n\n".join(gen.blocks) + "\n"
    module = types.ModuleType(module_name)
    module.__file__ = filename
    module.__loader__ = _Source(source)
    module.__dict__.update(gen.namespace)
    sys.modules[module_name] = module
    # The host's docstring reader calls inspect.getsource(cls): it finds this text.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102  # our own generated source
    return module.__dict__[name]


class _Generator:
    def __init__(self, names: dict[Any, Any]) -> None:
        self.names = names
        self.blocks: list[str] = []
        self.done: dict[Any, str] = {}
        self.namespace: dict[str, Any] = {"TypedDict": TypedDict, "NotRequired": NotRequired, "pulumi": pulumi}

    def typed_dict(self, model: type[BaseModel], name: str, extra: dict[str, Extra] | None = None) -> str:
        if model in self.done:
            return self.done[model]
        self.done[model] = name
        lines = [f"class {name}(TypedDict):", _doc(model.__doc__ or name, "    ")]
        fields = [
            (field, not info.is_required(), self.annotation(info.annotation, info.metadata), info.description)
            for field, info in model.model_fields.items()
        ]
        fields += [(field, not e.required, self.extra(e.type_), e.description) for field, e in (extra or {}).items()]
        for field, optional, ann, description in fields:
            lines.append(f"    {field}: {f'NotRequired[{ann}]' if optional else ann}")
            lines.append(_doc(description or field.replace("_", " "), "    "))
        self.blocks.append("\n".join(lines))
        return name

    def annotation(self, tp: Any, metadata: list[Any] = ()) -> str:  # type: ignore[assignment]
        as_input = any(meta is PluginInput for meta in metadata)
        for meta in metadata:
            if isinstance(meta, PluginAs):
                inner = self.annotation(meta.type_)
                return f"pulumi.Input[{inner}]" if as_input else inner
        if as_input:
            return f"pulumi.Input[{self.annotation(tp)}]"
        origin = get_origin(tp)
        if origin is Annotated:
            inner, *meta = get_args(tp)
            return self.annotation(inner, meta)
        if origin is Union or isinstance(tp, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) != 1:
                raise TypeError(f"{tp}: the plugin host takes no unions; annotate the field with PluginAs(...)")
            return self.annotation(members[0])
        if origin in (tuple, list):
            return f"list[{self.annotation(next(a for a in get_args(tp) if a is not Ellipsis))}]"
        if origin is dict:
            return f"dict[str, {self.annotation(get_args(tp)[1])}]"
        if tp in (str, int, bool, float):
            return tp.__name__
        if tp in self.names and not isinstance(self.names[tp], str):
            return self.ref(self.names[tp])  # an existing input type (shared with other components)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return self.typed_dict(tp, self.names.get(tp, f"{tp.__name__}Settings"))
        if isinstance(tp, type) and (issubclass(tp, Enum) or _is_typeddict(tp)):
            return self.ref(tp)
        raise TypeError(f"{tp!r} has no plugin form; annotate the field with PluginAs(...)")

    def extra(self, tp: Any) -> str:
        name = f"_extra_{len(self.namespace)}"
        self.namespace[name] = tp  # the annotation object as given, under a private name
        return name

    def ref(self, tp: type) -> str:
        self.namespace[tp.__name__] = tp
        return tp.__name__


def _is_typeddict(tp: type) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _doc(text: str, indent: str) -> str:
    body = " ".join(textwrap.dedent(text).split()).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return f'{indent}"""{body}"""'
