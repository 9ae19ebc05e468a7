"""The base of every component's declared model (pydantic v2), and reading raw config into one.

A component declares its inputs once, as `Model` subclasses: the stack file is validated
into them (lab/), they are the component's args, the plugin reads its inputs with them,
and the editor schema and the README's key table are generated from them.

    class Pool(Model):
        '''A MetalLB pool.'''            # the docstring describes the type
        name: Label
        '''Pool name (DNS-1123 label).''' # an attribute docstring is the field's description
        auto_assign: Flag = True          # stack key `autoAssign`; Python keeps snake_case

`parse(Pool, raw, "homelab:x.pools[0]", problems)` returns the model, or None after
reporting every problem under its full key (`homelab:x.pools[0].autoAssign: must be
true or false, got 'yes'`). No ValidationError, no traceback ever reaches a user.
"""

from __future__ import annotations

import ast
import difflib
import functools
import inspect
import ipaddress
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
    ValidationError,
)
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import CoreSchema, PydanticCustomError, PydanticUndefined, core_schema

from components.validation import DNS1123_LABEL, IFNAME, Problems

M = TypeVar("M", bound=BaseModel)


class Model(BaseModel):
    """A declared input: closed (unknown keys refused), immutable, camelCase in the stack file.

    Positional arguments fill the fields in declaration order, as the dataclasses did:
    `AddressPool("lan", ("192.168.2.240-192.168.2.250",))`.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        arbitrary_types_allowed=True,  # pulumi.Output values where a field takes an Input
        coerce_numbers_to_str=True,  # `version: 1.2` in YAML is the string "1.2", as before
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # The docstring under a field is its description. pydantic's use_attribute_docstrings
        # walks frames per class (~8 ms each on Python 3.11); one parse per module is enough.
        docs = _field_docs(cls)
        for name in getattr(cls, "__annotations__", {}):
            if name in docs:
                current = cls.__dict__.get(name, PydanticUndefined)
                if isinstance(current, FieldInfo):
                    if current.description is None:
                        current.description = docs[name]
                else:
                    setattr(cls, name, Field(current, description=docs[name]))
        super().__init_subclass__(**kwargs)

    def __init__(self, /, *args: Any, **data: Any) -> None:
        if args:
            names = list(type(self).model_fields)
            if len(args) > len(names):
                raise TypeError(f"{type(self).__name__} takes at most {len(names)} positional arguments")
            for name, value in zip(names, args, strict=False):
                if name in data:
                    raise TypeError(f"{type(self).__name__} got {name!r} twice")
                data[name] = value
        super().__init__(**data)

    # Tell pydantic this is still its own __init__: a "custom" one would be called while
    # validating nested models and the validation context would be lost on the way.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PluginAs:
    """Field metadata: in the plugin, this field takes `type_`'s input form (a model, or a
    TypedDict as is). The host takes no unions: a union-typed field names its object form."""

    type_: Any


class _PluginInput:
    def __repr__(self) -> str:
        return "PluginInput"


PluginInput = _PluginInput()
"""Field metadata: the plugin accepts a pulumi.Input here (a secret, another resource's output)."""


@dataclass(frozen=True)
class Shown:
    """Field metadata: how the README's key table names this type (for an `Any` with its own
    validator, e.g. "IPv4 or {service: namespace/name}")."""

    text: str


@functools.cache
def _module_docs(filename: str) -> dict[str, dict[str, str]]:
    """Class name → field → the string literal right under its annotation, for one source file."""
    try:
        tree = ast.parse(Path(filename).read_text())
    except (OSError, SyntaxError):
        return {}
    out: dict[str, dict[str, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            docs: dict[str, str] = {}
            for stmt, following in zip(node.body, node.body[1:], strict=False):
                if (
                    isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.target, ast.Name)
                    and isinstance(following, ast.Expr)
                    and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)
                ):
                    docs[stmt.target.id] = inspect.cleandoc(following.value.value)
            out[node.name] = docs
    return out


def _field_docs(cls: type) -> dict[str, str]:
    filename = getattr(sys.modules.get(cls.__module__), "__file__", None)
    return _module_docs(filename).get(cls.__name__, {}) if filename else {}


# --- value types with our wording --------------------------------------------------


OURS = "homelab"  # the error type of messages written here, shown as they are


def problem(kind: str, message: str, *, at: str = "", **ctx: Any) -> PydanticCustomError:
    """An error whose message is shown as is under the field's key (raise it in validators).

    `at` places it below the validated value: a model validator that finds a duplicate
    says `at="pools[1].name"` (stack spelling) so the key names the culprit.
    """
    # pydantic fills `{name}` only for names in the context: a message's own braces stay.
    return PydanticCustomError(OURS, message, {"kind": kind, "at": at, **ctx})


def fail(found: Sequence[tuple[tuple[int | str, ...], str]], title: str = "homelab") -> None:
    """Raise every (location below the validated value, message) at once, from a validator.

    Pydantic merges the raised errors under the value's own location, so a model
    validator reports each culprit under its key: `fail([(("records", "*"), "...")])`.
    Locations use field names or stack keys, list indexes and mapping keys.
    """
    if found:
        raise ValidationError.from_exception_data(
            title, [{"type": problem("rule", message), "loc": loc, "input": None} for loc, message in found]
        )


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise problem("int_type", f"must be an integer, got {value!r}")
    return value


Flag = Annotated[bool, Strict()]
"""true or false only ('yes', 1 and "true" are refused, as before)."""
Int = Annotated[int, BeforeValidator(_not_bool)]
"""An integer; 6443.0 (how the plugin wire carries ints) is 6443, true is refused."""


@dataclass(frozen=True)
class between:  # noqa: N801  # used like a type: Annotated[Int, between(1, 65535)]
    """An inclusive range, worded as before ("must be between 1 and 65535, got 0") and
    written into the JSON schema as minimum/maximum."""

    lo: int
    hi: int

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {**handler(schema), "minimum": self.lo, "maximum": self.hi}

    def _check(self, value: int) -> int:
        if not self.lo <= value <= self.hi:
            raise problem("range", f"must be between {self.lo} and {self.hi}, got {value}")
        return value


@dataclass(frozen=True)
class at_least:  # noqa: N801  # used like a type, as between
    """A lower bound only, worded like between's ("must be at least 0, got -1"); `minimum` in the schema."""

    lo: int

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {**handler(schema), "minimum": self.lo}

    def _check(self, value: int) -> int:
        if value < self.lo:
            raise problem("range", f"must be at least {self.lo}, got {value}")
        return value


def non_empty(message: str) -> AfterValidator:
    """A list (or mapping) that needs at least one entry, with the message to show when empty."""

    def check(value: Any) -> Any:
        if len(value) == 0:
            raise problem("too_short", message)
        return value

    check.missing_message = message  # type: ignore[attr-defined]  # also when the key is absent
    return AfterValidator(check)


# --- raw config → model --------------------------------------------------------------


def parse(
    model: type[M], raw: Any, key: str, problems: Problems, *, context: Mapping[str, Any] | None = None
) -> M | None:
    """Validate `raw` into `model`; on failure report every problem under `key` and return None.

    `context` reaches validators as `info.context` (e.g. {"lab": LabContext} for rules
    that need the LAN); a model must also validate without it (plugin, Python users).
    """
    try:
        return model.model_validate({} if raw is None else raw, context=dict(context or {}))
    except ValidationError as exc:
        report(exc, model, key, problems)
        return None


def lenient(model: type[M], raw: Any, *, context: Mapping[str, Any] | None = None) -> M | None:
    """`raw` as `model`, or None without reporting: for rules across entries, run on every
    entry that is valid by itself while `parse` has already reported the others."""
    try:
        return model.model_validate(raw, context=dict(context or {}))
    except ValidationError:
        return None


def report(exc: ValidationError, model: type[BaseModel], key: str, problems: Problems) -> None:
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        path, parent = _locate(model, err["loc"])
        below = (err.get("ctx") or {}).get("at") if err["type"] == OURS else ""
        if below:
            path += below if below.startswith("[") else f".{below}"
        full = key + path if key else path.removeprefix(".")
        message = _message(err, parent)
        if (full, message) not in seen:  # a union reports one failure per member
            seen.add((full, message))
            problems.error(full, message)


def _locate(model: type[BaseModel], loc: Sequence[int | str]) -> tuple[str, Any]:
    """Our key path for a pydantic loc (`.alias` for fields, `[i]` for items, `[key]` for
    mapping keys), and the type found at the parent of the last step (for messages)."""
    path = ""
    current: Any = model
    parent: Any = model
    for step in loc:
        parent = current
        current = bare_type(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = _field(current, str(step))
            if field is None:  # a key the model doesn't have (extra_forbidden) or a validator's tag
                if isinstance(step, int):
                    path += f"[{step}]"
                elif "[" not in str(step):  # an unknown key (any spelling), not a validator's tag
                    path += f".{step}"
                current = None
                continue
            name, info = field
            path += f".{info.alias or name}"
            current = info.annotation
        elif _origin(current) in (list, tuple, set, frozenset, Sequence) and isinstance(step, int):
            path += f"[{step}]"
            current = _item(current)
        elif _origin(current) in (dict, Mapping):
            path += f"[{step}]"
            current = _args(current)[1] if len(_args(current)) == 2 else Any
        elif isinstance(step, int):
            path += f"[{step}]"
            current = None
        elif not _is_tag(str(step)):
            path += f".{step}"
            current = None
    return path, bare_type(parent)


def _is_tag(step: str) -> bool:
    # Pydantic names validator and union steps like `function-after[check(), str]` or `str`.
    return "[" in step or step in {"str", "int", "float", "bool", "dict", "list", "tuple"} or step[:1].isupper()


def _field(model: type[BaseModel], step: str) -> tuple[str, Any] | None:
    for name, info in model.model_fields.items():
        if step in (name, info.alias):
            return name, info
    return None


def _origin(tp: Any) -> Any:
    origin = get_origin(tp)
    if origin is not None and hasattr(origin, "__module__") and origin.__module__ == "collections.abc":
        return {"Sequence": Sequence, "Mapping": Mapping}.get(origin.__name__, origin)
    return origin


def _args(tp: Any) -> tuple[Any, ...]:
    return get_args(tp)


def _item(tp: Any) -> Any:
    args = [a for a in get_args(tp) if a is not Ellipsis]
    return args[0] if args else Any


def bare_type(tp: Any, metadata: list[Any] | None = None) -> Any:
    """The type under Annotated / Optional (X | None); the Annotated metadata met on the way
    (e.g. bounds inside an optional) is appended to `metadata`."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp, *more = get_args(tp)
            if metadata is not None:
                metadata.extend(more)
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _got(value: Any) -> str:
    return type(value).__name__ if isinstance(value, list | dict | Mapping) else repr(value)


def _message(err: Any, parent: Any) -> str:
    kind: str = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == OURS:
        return str(err["msg"])
    if kind == "missing":
        field = _field(parent, str(err["loc"][-1])) if _is_model(parent) else None
        for meta in field[1].metadata if field else ():
            custom = getattr(getattr(meta, "func", None), "missing_message", None)
            if custom:
                return f"is required: {custom}"
        return "is required"
    if kind == "extra_forbidden":
        return _unknown(str(err["loc"][-1]), parent)
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {value!r}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be an integer, got {value!r}"
    if kind in ("string_type",):
        return f"must be a string, got {type(value).__name__}"
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"must be a list, got {type(value).__name__}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"must be a mapping, got {type(value).__name__}"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"must be one of {expected}, got {value!r}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"{err['msg'].lower().removeprefix('input ')}, got {_got(value)}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length', 1)} entr{'y' if ctx.get('min_length', 1) == 1 else 'ies'}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return str(err["msg"])


def _unknown(name: str, model: Any) -> str:
    allowed = (
        sorted((info.alias or n) for n, info in model.model_fields.items() if not info.exclude)
        if isinstance(model, type) and issubclass(model, BaseModel)
        else []
    )
    if not allowed:
        return "unknown setting"
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if not close:
        close = [a for a in allowed if a.lower() == name.lower()]
    hint = f"did you mean {close[0]}? " if close else ""
    return f"unknown setting ({hint}allowed: {', '.join(allowed)})"


def plain(value: Any) -> Any:
    """Enum members (the plugin host's form for enum-typed inputs) → their values, recursively."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def fields_of(model: type[BaseModel]) -> dict[str, Any]:
    """Field name → FieldInfo (a stable accessor for tests and generators)."""
    return dict(model.model_fields)


# --- values the sections share ----------------------------------------------------------


def dns_label(name: str) -> str:
    if not DNS1123_LABEL.match(name):
        raise problem("label", f"{name!r} is not a DNS-1123 label (lowercase letters, digits, '-')")
    return name


def ipv4_text(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise problem("ipv4", f"{text!r} is not an IPv4 address") from None


def cidr_text(text: str) -> str:
    try:
        return str(ipaddress.IPv4Network(text, strict=True))
    except ValueError as exc:
        raise problem("cidr", f"{text!r} is not an IPv4 network in CIDR form ({exc})") from None


def interface_name(name: str) -> str:
    if not IFNAME.match(name):
        raise problem("ifname", f"{name!r} is not a network interface name (at most 15 characters)")
    return name


Label = Annotated[str, AfterValidator(dns_label)]
IPv4Text = Annotated[str, AfterValidator(ipv4_text)]
Cidr = Annotated[str, AfterValidator(cidr_text)]
Interface = Annotated[str, AfterValidator(interface_name)]
Port = Annotated[Int, between(1, 65535)]


__all__ = [
    "Cidr",
    "bare_type",
    "Flag",
    "IPv4Text",
    "Interface",
    "Label",
    "Port",
    "cidr_text",
    "dns_label",
    "interface_name",
    "ipv4_text",
    "Int",
    "Model",
    "PluginAs",
    "PluginInput",
    "Shown",
    "between",
    "fail",
    "fields_of",
    "lenient",
    "non_empty",
    "parse",
    "plain",
    "problem",
    "report",
]
