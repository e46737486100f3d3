"""Typed, frozen node configuration with units and ranges, shared by the core and the nodes.

A node's configuration is a frozen dataclass whose fields are made with
:func:`param`. The ROS wrapper declares one typed parameter per field
(``walkout_nodes.common.declare_config``), builds the dataclass from the
parameter values and calls :func:`validate`, which raises a ``ValueError``
naming the parameter and the value. The same dataclass documents the
``params/*.yaml`` files: a test holds their keys against the fields.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, TypeVar

__all__ = ['param', 'validate', 'describe', 'from_mapping']

T = TypeVar('T')


def param(default: Any, unit: str, description: str, *, min_value: float | None = None,
          max_value: float | None = None, choices: tuple[Any, ...] | None = None) -> Any:
    """A configuration field with a unit, a description and an allowed range."""
    meta = {'unit': unit, 'description': description, 'min': min_value, 'max': max_value,
            'choices': choices}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def validate(cfg: Any) -> Any:
    """Check every field against its type and range; return ``cfg`` or raise ``ValueError``."""
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        m = f.metadata
        if isinstance(f.default, bool) and not isinstance(v, bool):
            raise ValueError(f'parameter {f.name!r}: {v!r} is not a bool')
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f'parameter {f.name!r}: {v!r} is not finite')
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if m.get('min') is not None and v < m['min']:
                raise ValueError(f'parameter {f.name!r}: {v!r} is below its minimum {m["min"]} [{m.get("unit", "")}]')
            if m.get('max') is not None and v > m['max']:
                raise ValueError(f'parameter {f.name!r}: {v!r} is above its maximum {m["max"]} [{m.get("unit", "")}]')
        if m.get('choices') is not None and v not in m['choices']:
            raise ValueError(f'parameter {f.name!r}: {v!r} is not one of {m["choices"]}')
    check = getattr(cfg, 'check', None)
    if callable(check):
        check()
    return cfg


def describe(cls: type) -> dict[str, dict[str, Any]]:
    """Field name -> {default, unit, description, min, max, choices}."""
    out = {}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        out[f.name] = {'default': default, **f.metadata}
    return out


def from_mapping(cls: type[T], values: dict[str, Any]) -> T:
    """Build and validate ``cls`` from a mapping; unknown keys are a ``ValueError``."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f'unknown parameter(s) {unknown} for {cls.__name__}')
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in values:
            v = values[f.name]
            default = f.default if f.default is not dataclasses.MISSING else None
            if isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
            kwargs[f.name] = v
    return validate(cls(**kwargs))
