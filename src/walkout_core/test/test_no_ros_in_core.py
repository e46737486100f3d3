"""The core never imports ROS: it must run (and be tested) with plain Python."""
import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / 'walkout_core'
FORBIDDEN = ('rclpy', 'rosidl', 'launch', 'launch_ros', 'cv_bridge', 'walkout_msgs', 'sensor_msgs',
             'std_msgs', 'geometry_msgs', 'visualization_msgs', 'diagnostic_msgs', 'builtin_interfaces')


def test_core_imports_no_ros():
    offenders = []
    for f in CORE.rglob('*.py'):
        tree = ast.parse(f.read_text(), filename=str(f))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                if n.split('.')[0] in FORBIDDEN:
                    offenders.append(f'{f.relative_to(CORE)}:{node.lineno}: {n}')
    assert not offenders, offenders
