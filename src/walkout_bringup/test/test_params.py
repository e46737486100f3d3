"""params/<node>.yaml keys equal the config dataclass fields that each node passes to declare_config.

The config classes are found by convention: the node module ``walkout_nodes.<node>`` calls
``declare_config(self, SomeConfig)``; every such class's fields together are the node's parameters.
Every value line carries a ``# [unit]`` comment.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from walkout_core.layout import params_dir

PARAMS = params_dir()
NODE_FILES = sorted(p for p in PARAMS.glob('*.yaml') if p.stem != 'catalogue')
ALL_NODES = ('shelf_sensor_node', 'shelf_event_node', 'camera_node', 'detection_node', 'tracker_node',
             'association_node', 'basket_node', 'checkout_node', 'bag_player', 'bag_recorder')


def config_classes(module_name: str) -> list[type]:
    """Classes passed as the 2nd argument of ``declare_config(...)`` in the module's source."""
    spec = importlib.util.find_spec(module_name)
    tree = ast.parse(Path(spec.origin).read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, 'id', getattr(node.func, 'attr', None)) == 'declare_config' \
                and len(node.args) >= 2:
            arg = node.args[1]
            names.append(arg.id if isinstance(arg, ast.Name) else ast.unparse(arg))
    module = importlib.import_module(module_name)
    out = []
    for n in names:
        obj = module
        for part in n.split('.'):
            obj = getattr(obj, part)
        out.append(obj)
    return out


def _present(name):
    return importlib.util.find_spec(f'walkout_nodes.{name}') is not None


@pytest.mark.parametrize('node', ALL_NODES)
def test_params_keys_equal_config_fields(node):
    if not _present(node):
        pytest.skip(f'walkout_nodes.{node} not written yet')
    pytest.importorskip('rclpy')
    classes = config_classes(f'walkout_nodes.{node}')
    assert classes, f'walkout_nodes.{node} never calls declare_config(self, <Config>)'
    fields = {f.name for c in classes for f in dataclasses.fields(c)}
    path = PARAMS / f'{node}.yaml'
    assert path.is_file(), f'{path} missing (node {node} declares {sorted(fields)})'
    data = yaml.safe_load(path.read_text())
    assert list(data) == [node], f'{path}: top-level key must be {node!r}'
    keys = set(data[node]['ros__parameters'])
    assert keys == fields, (f'{path}: keys not in the config: {sorted(keys - fields)}; '
                            f'config fields missing from the file: {sorted(fields - keys)}')


@pytest.mark.parametrize('path', NODE_FILES, ids=lambda p: p.name)
def test_every_value_has_a_unit_comment(path):
    lines = [ln for ln in path.read_text().splitlines()
             if re.match(r'^\s{4,}\w+:', ln) and not ln.strip().startswith('#')]
    bad = [ln for ln in lines if not re.search(r'#\s*\[[^\]]*\]', ln)]
    assert not bad, f'{path.name}: values without a "# [unit]" comment: {bad}'
