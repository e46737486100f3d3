"""Every walkout_msgs message type, published by one process and received by another over DDS."""
import importlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip('rclpy')
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402

MSG_DIR = Path(__file__).resolve().parents[3] / 'msg' / 'msg'
TYPES = sorted(p.stem for p in MSG_DIR.glob('*.msg'))
# messages that are only ever fields of others are still published on their own here
PUBLISHER = textwrap.dedent('''
    import sys, time, importlib
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    types = sys.argv[1].split(',')
    rclpy.init()
    node = rclpy.create_node('dds_test_publisher')
    mod = importlib.import_module('walkout_msgs.msg')
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pubs = [(t, node.create_publisher(getattr(mod, t), '/dds_test/' + t, qos)) for t in types]
    deadline = time.monotonic() + 60.0
    while rclpy.ok() and time.monotonic() < deadline:
        for t, pub in pubs:
            msg = getattr(mod, t)()
            if hasattr(msg, 'header'):
                msg.header.frame_id = 'map'
                msg.header.stamp.sec = 1780000000
            pub.publish(msg)
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.try_shutdown()
''')


def test_msg_dir_has_the_mission_types():
    needed = {'LoadCellReadings', 'ShelfEvent', 'PersonDetection', 'PersonDetectionArray', 'Avatar',
              'AvatarArray', 'BasketEvent', 'Basket', 'BasketItem', 'StoreAlert', 'Receipt'}
    assert needed <= set(TYPES)


def test_every_message_type_crosses_processes():
    assert os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE') == 'LOCALHOST'
    mod = importlib.import_module('walkout_msgs.msg')
    child = subprocess.Popen([sys.executable, '-c', PUBLISHER, ','.join(TYPES)], env=dict(os.environ))
    rclpy.init()
    node = rclpy.create_node('dds_test_subscriber')
    received = {}
    try:
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        for t in TYPES:
            node.create_subscription(getattr(mod, t), '/dds_test/' + t,
                                     lambda msg, t=t: received.setdefault(t, msg), qos)
        deadline = time.monotonic() + 45.0
        while len(received) < len(TYPES) and time.monotonic() < deadline and child.poll() is None:
            rclpy.spin_once(node, timeout_sec=0.2)
    finally:
        child.terminate()
        child.wait(timeout=10)
        node.destroy_node()
        rclpy.try_shutdown()
    assert sorted(received) == TYPES
    assert received['ShelfEvent'].header.frame_id == 'map'
    assert received['ShelfEvent'].header.stamp.sec == 1780000000


def test_constants_are_defined():
    from walkout_msgs.msg import Avatar, StoreAlert
    from walkout_msgs.srv import RequestPayment
    assert {Avatar.STATE_ENTERING, Avatar.STATE_SHOPPING, Avatar.STATE_AT_CHECKOUT, Avatar.STATE_EXITED} == {0, 1, 2, 3}
    kinds = [StoreAlert.KIND_AGE_CHECK, StoreAlert.KIND_MISPLACED_PRODUCT, StoreAlert.KIND_REVIEW_NEEDED,
             StoreAlert.KIND_UNKNOWN_WEIGHT_CHANGE, StoreAlert.KIND_SENSOR_FAULT, StoreAlert.KIND_LEFT_WITHOUT_PAYING]
    assert len(set(kinds)) == 6
    assert RequestPayment.Response.STATUS_PAID == 0
