"""graph.node_list: the node list of both layouts, parameters from params/, per-instance overrides."""
from __future__ import annotations

from pathlib import Path

import pytest

from walkout_bringup.graph import CORE_EXECUTABLES, NodeSpec, load_node_params, node_list
from walkout_core.layout import load_layout


@pytest.mark.parametrize('name', ['small', 'flash'])
def test_bag_graph_has_one_detection_node_per_camera_and_the_core_nodes(name):
    layout = load_layout(name)
    nodes = node_list(layout, source='bag')
    exes = [n.executable for n in nodes]
    assert exes.count('detection_node') == len(layout.cameras)
    assert 'camera_node' not in exes and 'shelf_sensor_node' not in exes
    for e in CORE_EXECUTABLES:
        assert exes.count(e) == 1
    assert len({n.name for n in nodes}) == len(nodes)
    det = [n for n in nodes if n.executable == 'detection_node']
    assert sorted(n.parameters['camera_id'] for n in det) == sorted(c.id for c in layout.cameras)
    hosts = {c.id: c.host for c in layout.cameras}
    assert all(n.host == hosts[n.parameters['camera_id']] for n in det)
    for n in nodes:
        assert isinstance(n, NodeSpec) and n.package == 'walkout_nodes'
        assert n.parameters['layout'] == name
        assert n.parameters['reliable_sensors'] is True
        assert n.parameters['use_sim_time'] is True


@pytest.mark.parametrize('name', ['small', 'flash'])
def test_live_graph_adds_cameras_and_shelf_controllers(name):
    layout = load_layout(name)
    nodes = node_list(name, source='live')
    cams = [n for n in nodes if n.executable == 'camera_node']
    ctrls = [n for n in nodes if n.executable == 'shelf_sensor_node']
    assert sorted(n.parameters['camera_id'] for n in cams) == sorted(c.id for c in layout.cameras)
    assert sorted(n.parameters['controller_id'] for n in ctrls) == sorted(layout.controllers())
    assert all(n.parameters['reliable_sensors'] is False for n in nodes)
    assert all(n.parameters['port'] for n in ctrls)
    if name == 'flash':
        assert len(cams) == 60 and {n.host for n in cams} == {f'edge{i}' for i in range(6)}
        assert all(n.host == 'core' for n in nodes if n.executable in CORE_EXECUTABLES)


def test_groups_of_cameras_stay_on_their_host():
    layout = load_layout('flash')
    nodes = node_list(layout, source='bag', cameras_per_detection_node=4)
    det = [n for n in nodes if n.executable == 'detection_node']
    covered = [c for n in det for c in n.parameters['camera_ids']]
    assert sorted(covered) == sorted(c.id for c in layout.cameras)
    hosts = {c.id: c.host for c in layout.cameras}
    for n in det:
        assert len(n.parameters['camera_ids']) <= 4
        assert {hosts[c] for c in n.parameters['camera_ids']} == {n.host}
        assert n.parameters['camera_id'] == n.parameters['camera_ids'][0]


def test_parameters_come_from_params_files_and_overrides_win(tmp_path):
    (tmp_path / 'tracker_node.yaml').write_text(
        'tracker_node:\n  ros__parameters:\n    gate_m: 1.5  # [m] gate\n    layout: other  # [-] x\n')
    nodes = node_list('small', source='bag', params_dir=tmp_path,
                      overrides={'tracker_node': {'max_age_s': 3.0}})
    tracker = next(n for n in nodes if n.executable == 'tracker_node')
    assert tracker.parameters['gate_m'] == 1.5
    assert tracker.parameters['layout'] == 'small'          # per-instance value wins over the file
    assert tracker.parameters['max_age_s'] == 3.0
    assert load_node_params('basket_node', tmp_path) == {}  # no file: no values


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match='source'):
        node_list('small', source='usb')
    (tmp_path / 'tracker_node.yaml').write_text('gate_m: 1\n')
    with pytest.raises(ValueError, match='tracker_node: ros__parameters'):
        node_list('small', params_dir=tmp_path)
    with pytest.raises(ValueError):
        node_list('no_such_layout')


def test_node_list_is_pure():
    import subprocess
    import sys
    code = 'import sys, walkout_bringup.graph as g; g.node_list("small"); print(any(m.startswith("rclpy") for m in sys.modules))'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == 'False'


def test_run_command_lists_the_same_node_list(capsys):
    from walkout_bringup.runner import main
    assert main(['--layout', 'flash', '--list', '--bag', '/nonexistent']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(node_list('flash', source='bag'))
    assert sum('detection_node' in ln for ln in lines) == 60
    assert main(['--layout', 'no_such_layout', '--list']) == 2


def test_replay_of_a_bag_without_card_stream_pays_by_dwell(tmp_path):
    from walkout_bringup.graph import CARD_TOPIC, replay_overrides
    from walkout_core.bagio import bag_topics
    assert replay_overrides(['/shelves/load_cells', CARD_TOPIC]) == {}
    old = replay_overrides(bag_topics(Path(__file__).resolve().parents[3] / 'bags' / 'demo_small'))
    assert old == {'checkout_node': {'payment_trigger': 'dwell'}}      # recorded before the card stream
    spec = next(s for s in node_list('small', source='bag', overrides=old) if s.executable == 'checkout_node')
    assert spec.parameters['payment_trigger'] == 'dwell'
    spec = next(s for s in node_list('small', source='bag') if s.executable == 'checkout_node')
    assert spec.parameters['payment_trigger'] == 'card'
