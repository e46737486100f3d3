"""Launch files: they parse everywhere; with launch_ros installed they build a LaunchDescription."""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

LAUNCH = Path(__file__).resolve().parents[3] / 'launch'
FILES = sorted(LAUNCH.glob('*.launch.py'))


@pytest.mark.parametrize('path', FILES, ids=lambda p: p.name)
def test_launch_file_parses_and_documents_its_arguments(path):
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, 'id', '') ==
             'DeclareLaunchArgument']
    assert calls
    for c in calls:
        assert any(k.arg == 'description' for k in c.keywords), ast.unparse(c)
    if path.name == 'store.launch.py':
        names = {c.args[0].value for c in calls}
        assert {'layout', 'source', 'bag', 'rate', 'rviz'} <= names


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem.replace('.', '_'), path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(importlib.util.find_spec('launch_ros') is None,
                    reason='launch_ros is not installed here (PyPI ROS 2 wheels); needs a full ROS 2 Jazzy install')
@pytest.mark.parametrize('path', FILES, ids=lambda p: p.name)
def test_launch_description_builds(path):
    from launch import LaunchContext, LaunchDescription
    from launch.actions import OpaqueFunction
    ld = _load(path).generate_launch_description()
    assert isinstance(ld, LaunchDescription)
    if path.name == 'store.launch.py':
        ctx = LaunchContext()
        for a in ld.entities:
            if not isinstance(a, OpaqueFunction):
                a.visit(ctx)
        ctx.launch_configurations.update({'source': 'bag', 'bag': '/tmp/bag', 'layout': 'flash'})
        op = next(a for a in ld.entities if isinstance(a, OpaqueFunction))
        nodes = op.visit(ctx)
        execs = [n.node_executable for n in nodes]
        assert execs.count('detection_node') == 60 and 'bag_player' in execs
