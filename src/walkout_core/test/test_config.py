"""Frozen configuration dataclasses: ranges, types, unknown keys."""
from dataclasses import dataclass

import pytest

from walkout_core.config import describe, from_mapping, param, validate


@dataclass(frozen=True)
class DemoConfig:
    rate_hz: float = param(10.0, 'Hz', 'update rate', min_value=0.1, max_value=100.0)
    mode: str = param('fast', '-', 'mode', choices=('fast', 'slow'))
    enabled: bool = param(True, '-', 'switch')


def test_defaults_are_valid():
    assert validate(DemoConfig()).rate_hz == 10.0


@pytest.mark.parametrize('kwargs, words', [
    ({'rate_hz': 0.0}, ['rate_hz', '0.0', 'minimum']),
    ({'rate_hz': 1e9}, ['rate_hz', 'maximum']),
    ({'rate_hz': float('nan')}, ['rate_hz', 'finite']),
    ({'mode': 'warp'}, ['mode', 'warp']),
    ({'enabled': 'yes'}, ['enabled', 'bool']),
])
def test_bad_values_name_the_parameter(kwargs, words):
    with pytest.raises(ValueError) as err:
        validate(DemoConfig(**kwargs))
    for w in words:
        assert w in str(err.value)


def test_from_mapping_rejects_unknown_keys_and_converts_ints():
    assert from_mapping(DemoConfig, {'rate_hz': 5}).rate_hz == 5.0
    with pytest.raises(ValueError, match='unknown'):
        from_mapping(DemoConfig, {'speed': 1})


def test_describe_lists_units():
    d = describe(DemoConfig)
    assert d['rate_hz']['unit'] == 'Hz' and d['rate_hz']['default'] == 10.0
