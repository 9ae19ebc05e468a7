"""plugin.derive: the plugin's input TypedDicts come from the models, with their descriptions."""

from __future__ import annotations

import inspect
import typing

import pulumi

from components.dns.model import DnsRecord, DnsZonesArgs, Zone
from components.loadbalancer.model import LoadBalancerArgs, LoadBalancerMode
from plugin.derive import Extra, plugin_inputs
from plugin.dns import DnsZonesArgsInput
from plugin.loadbalancer import LoadBalancerArgsInput


def test_every_model_field_is_an_input_and_required_follows_the_model() -> None:
    for derived, model in ((LoadBalancerArgsInput, LoadBalancerArgs), (DnsZonesArgsInput, DnsZonesArgs)):
        assert set(derived.__annotations__) == set(model.model_fields)
        assert derived.__required_keys__ == {n for n, f in model.model_fields.items() if f.is_required()}


def test_nested_models_enums_unions_and_inputs() -> None:
    hints = typing.get_type_hints(LoadBalancerArgsInput, include_extras=True)
    assert typing.get_args(hints["mode"])[0] is LoadBalancerMode
    zone = typing.get_args(typing.get_args(DnsZonesArgsInput.__annotations__["zones"])[0])[0]
    assert zone.__name__ == "DnsZoneSettings"
    record = typing.get_args(typing.get_args(zone.__annotations__["records"])[0])[1]
    assert record.__name__ == "DnsRecord" and set(record.__annotations__) == set(DnsRecord.model_fields)
    # ip may come from another resource: a pulumi.Input, optional.
    assert typing.get_args(record.__annotations__["ip"])[0] == pulumi.Input[str]


def test_descriptions_are_in_the_source_the_host_reads() -> None:
    source = inspect.getsource(DnsZonesArgsInput)
    assert f'"""{Zone.__doc__}"""' not in source  # that one is on DnsZoneSettings
    assert f'"""{DnsZonesArgs.model_fields["skip_await"].description}"""' in source


def test_extra_inputs_join_the_top_level_type() -> None:
    derived = plugin_inputs(
        LoadBalancerArgs,
        "ExtraArgsInput",
        names={},
        extra={"token": Extra(pulumi.Input[str], "A token.", required=True)},
    )
    assert "token" in derived.__required_keys__
    assert '    """A token."""' in inspect.getsource(derived)
