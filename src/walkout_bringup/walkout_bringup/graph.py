"""The store's node graph as a pure function of the layout (no ROS import).

:func:`node_list` returns the nodes to start, each a frozen :class:`NodeSpec`
(package, executable, name, parameters, remappings, host). ``launch/store.launch.py``
turns the list into ``launch_ros.actions.Node`` actions, ``walkout_bringup.runner``
into ``NODE_CLASS(node_name=..., parameter_overrides=[...])`` in one executor (or
one process per node), ``walkout_bringup.evaluate`` does the same to score a bag.

Parameters of a node = the values of ``params/<executable>.yaml`` (ROS 2 form,
``<executable>: ros__parameters: {...}``) + per-instance overrides (``layout``,
``reliable_sensors``, ``camera_id``, ``controller_id``, ...).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

__all__ = ['NodeSpec', 'node_list', 'load_node_params', 'replay_overrides', 'CORE_HOST', 'SOURCES',
           'CORE_EXECUTABLES', 'CARD_TOPIC']

#: Host name of the machine that runs the store-wide nodes.
CORE_HOST = 'core'
SOURCES = ('bag', 'live')
#: Store-wide nodes, one instance each, in data-flow order.
CORE_EXECUTABLES = ('shelf_event_node', 'tracker_node', 'association_node', 'basket_node', 'checkout_node')
PACKAGE = 'walkout_nodes'
#: The checkout terminals' card readers (the simulator writes them into its bags).
CARD_TOPIC = '/checkout/card_presented'


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph."""

    package: str
    executable: str
    name: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()
    host: str = CORE_HOST

    def parameter_items(self) -> list[tuple[str, Any]]:
        return sorted(self.parameters.items())


def _default_params_dir() -> Path:
    from walkout_core.layout import params_dir  # pure python (numpy, yaml)
    return params_dir()


def load_node_params(executable: str, params_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Values of ``params/<executable>.yaml`` for that node ({} when the file does not exist).

    Raises ``ValueError`` naming the file when it is not a ROS 2 parameter file.
    """
    path = Path(params_dir if params_dir is not None else _default_params_dir()) / f'{executable}.yaml'
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f'{path}: not valid YAML: {exc}') from exc
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected "<node_name>: ros__parameters: {{...}}"')
    for key in (executable, f'/{executable}', '/**', '**'):
        section = data.get(key)
        if isinstance(section, dict) and isinstance(section.get('ros__parameters'), dict):
            return dict(section['ros__parameters'])
    raise ValueError(f'{path}: no "{executable}: ros__parameters:" section (keys: {sorted(data)})')


def replay_overrides(topics: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Parameters a bag with these ``topics`` needs: without the terminals' card stream (a bag recorded
    before it existed, or without a terminal) the checkout presents the card after a dwell in the zone."""
    if CARD_TOPIC in set(topics):
        return {}
    return {'checkout_node': {'payment_trigger': 'dwell'}}


def _layout_obj(layout: Any) -> Any:
    if hasattr(layout, 'cameras'):
        return layout
    from walkout_core.layout import load_layout
    return load_layout(layout)


def _layout_param(layout: Any, given: Any) -> str:
    """The ``layout`` parameter: the name given, else the loaded layout's name (or its file)."""
    if isinstance(given, (str, os.PathLike)):
        p = Path(given)
        # a file path is made absolute (nodes may run with another working directory); a name stays
        return str(p.resolve()) if p.suffix in ('.yaml', '.yml') or p.exists() else str(given)
    name = getattr(layout, 'name', '')
    src = getattr(layout, 'source', '')
    if src and Path(src).stem != name:
        return str(src)
    try:
        from walkout_core.layout import resolve_layout_path
        if Path(resolve_layout_path(name)).resolve() == Path(src).resolve():
            return name
    except Exception:  # noqa: BLE001 - a layout built from a dict has no file
        pass
    return str(src or name)


def _safe(s: str) -> str:
    return ''.join(c if c.isalnum() or c == '_' else '_' for c in s)


def node_list(layout: Any, *, source: str = 'bag', params_dir: str | os.PathLike[str] | None = None,
              reliable_sensors: bool | None = None, cameras_per_detection_node: int = 1,
              use_sim_time: bool | None = None, serial_ports: Mapping[str, str] | None = None,
              overrides: Mapping[str, Mapping[str, Any]] | None = None) -> list[NodeSpec]:
    """The store graph for ``layout`` (a :class:`walkout_core.layout.Layout`, a name or a path).

    - ``source='live'``: one ``camera_node`` per camera and one ``shelf_sensor_node`` per shelf
      controller (``layout.controllers()``) read the hardware; ``'bag'``: a bag player feeds the
      topics instead (the player is not in this list).
    - one ``detection_node`` per camera (``cameras_per_detection_node=1``) or per group of up to
      that many cameras on the same host (then ``camera_ids`` lists them and ``camera_id`` is the first);
    - one each of shelf_event_node, tracker_node, association_node, basket_node, checkout_node.
    - ``reliable_sensors`` (default: True for a bag, False live) asks sensor subscribers for reliable QoS.
    - ``overrides``: node name or executable -> extra parameters (applied last).
    """
    if source not in SOURCES:
        raise ValueError(f'source: {source!r} is not one of {SOURCES}')
    if cameras_per_detection_node < 1:
        raise ValueError(f'cameras_per_detection_node: {cameras_per_detection_node!r} must be >= 1')
    lay = _layout_obj(layout)
    layout_param = _layout_param(lay, layout)
    reliable = (source == 'bag') if reliable_sensors is None else bool(reliable_sensors)
    sim_time = (source == 'bag') if use_sim_time is None else bool(use_sim_time)
    overrides = overrides or {}
    serial_ports = serial_ports or {}
    cache: dict[str, dict[str, Any]] = {}

    def make(executable: str, name: str, host: str = CORE_HOST, **instance: Any) -> NodeSpec:
        if executable not in cache:
            cache[executable] = load_node_params(executable, params_dir)
        params = dict(cache[executable])
        params.update(layout=layout_param, reliable_sensors=reliable, use_sim_time=sim_time)
        params.update(instance)
        params.update(overrides.get(executable, {}))
        params.update(overrides.get(name, {}))
        return NodeSpec(PACKAGE, executable, name, params, (), host)

    nodes: list[NodeSpec] = []
    if source == 'live':
        for cam in lay.cameras:
            nodes.append(make('camera_node', f'camera_node_{_safe(cam.id)}', cam.host,
                              camera_id=cam.id, source='device'))
        for ctrl in lay.controllers():
            nodes.append(make('shelf_sensor_node', f'shelf_sensor_node_{_safe(ctrl)}', CORE_HOST,
                              controller_id=ctrl, port=serial_ports.get(ctrl, f'/dev/walkout/{ctrl}')))
    # detection nodes: per camera, or per group of cameras of one host
    by_host: dict[str, list[str]] = {}
    for cam in lay.cameras:
        by_host.setdefault(cam.host, []).append(cam.id)
    for host, cams in by_host.items():
        for i in range(0, len(cams), cameras_per_detection_node):
            group = cams[i:i + cameras_per_detection_node]
            if cameras_per_detection_node == 1:
                nodes.append(make('detection_node', f'detection_node_{_safe(group[0])}', host,
                                  camera_id=group[0]))
            else:
                nodes.append(make('detection_node', f'detection_node_{_safe(host)}_{i // cameras_per_detection_node}',
                                  host, camera_id=group[0], camera_ids=list(group)))
    for executable in CORE_EXECUTABLES:
        nodes.append(make(executable, executable))
    names = [n.name for n in nodes]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f'layout {getattr(lay, "name", "?")!r}: duplicate node names {dup} (camera or controller ids '
                         'that differ only in characters other than letters, digits and _)')
    return nodes
