"""common.Diagnostics publishes counters and levels on /diagnostics without crashing."""
import pytest

rclpy = pytest.importorskip('rclpy')
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402

from walkout_nodes.common import Diagnostics, declare_config, sec_to_stamp, stamp_to_sec  # noqa: E402


@pytest.fixture
def node():
    rclpy.init()
    n = rclpy.create_node('common_test')
    yield n
    n.destroy_node()
    rclpy.try_shutdown()


def test_diagnostics_levels_and_counters(node):
    got = []
    node.create_subscription(DiagnosticArray, '/diagnostics', got.append, 10)
    diag = Diagnostics(node, 'unit', period_s=0.05)
    diag.count('frames')
    diag.problem('bad_line', 'garbled line from controller c1')
    diag.problem('bad_line', 'garbled line from controller c1', level=2)
    for _ in range(100):
        rclpy.spin_once(node, timeout_sec=0.05)
        if got:
            break
    assert got, 'no /diagnostics message'
    status = got[-1].status[0]
    assert status.level in (DiagnosticStatus.WARN, DiagnosticStatus.ERROR)
    values = {kv.key: kv.value for kv in status.values}
    assert values == {'bad_line': '2', 'frames': '1'}


def test_stamp_round_trip():
    for t in (0.0, 1780000000.123456789, 12.999999999):
        assert abs(stamp_to_sec(sec_to_stamp(t)) - t) < 2e-9


def test_declare_config_rejects_out_of_range(node):
    from dataclasses import dataclass
    from rclpy.parameter import Parameter
    from walkout_core.config import param

    @dataclass(frozen=True)
    class Cfg:
        rate_hz: float = param(10.0, 'Hz', 'rate', min_value=1.0, max_value=50.0)

    assert declare_config(node, Cfg).rate_hz == 10.0
    bad = rclpy.create_node('common_test_bad', parameter_overrides=[Parameter('rate_hz', value=0.5)],
                            automatically_declare_parameters_from_overrides=False)
    try:
        with pytest.raises(Exception) as err:
            declare_config(bad, Cfg)
        assert 'rate_hz' in str(err.value)
    finally:
        bad.destroy_node()
