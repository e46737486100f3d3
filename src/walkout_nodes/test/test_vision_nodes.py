"""camera_node, detection_node, tracker_node with real rclpy, and the image conversions.

Every rclpy test runs in this session's ROS_DOMAIN_ID (src/conftest.py) on localhost only.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from rosutil import spin_until  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from walkout_core.layout import load_layout  # noqa: E402
from walkout_core.vision.synthetic import Person, render_background, render_frame  # noqa: E402
from walkout_msgs.msg import AvatarArray, PersonDetection, PersonDetectionArray  # noqa: E402
from walkout_nodes import image_conv  # noqa: E402
from walkout_nodes.common import REPLAY_QOS, sec_to_stamp  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
T0 = 1_780_000_000.0


# ---------------------------------------------------------------------------- conversions
@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'mono8'])
def test_numpy_image_round_trip(encoding):
    rng = np.random.default_rng(0)
    shape = (7, 5, 3) if encoding != 'mono8' else (7, 5)
    arr = rng.integers(0, 256, shape, dtype=np.uint8)
    msg = image_conv.numpy_to_image(arr, encoding, use_cv_bridge=False)
    assert (msg.encoding, msg.height, msg.width, msg.step) == (encoding, 7, 5, 5 * (1 if encoding == 'mono8' else 3))
    assert np.array_equal(image_conv.image_to_numpy(msg, use_cv_bridge=False), arr)
    # a padded row stride, as some drivers send
    padded = Image(height=7, width=5, encoding=encoding, step=msg.step + 3)
    rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(7, msg.step)
    padded.data = np.hstack([rows, np.zeros((7, 3), np.uint8)]).tobytes()
    assert np.array_equal(image_conv.image_to_numpy(padded, use_cv_bridge=False), arr)
    bgr = image_conv.image_to_bgr(msg, use_cv_bridge=False)
    assert bgr.shape == (7, 5, 3)
    if encoding == 'rgb8':
        assert np.array_equal(bgr[:, :, ::-1], arr)


@pytest.mark.skipif(not image_conv.HAVE_CV_BRIDGE, reason='cv_bridge is not installed in this environment '
                    '(PyPI ROS 2 wheels); the direct numpy path is tested above')
@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'mono8'])
def test_cv_bridge_image_round_trip(encoding):
    arr = np.random.default_rng(1).integers(0, 256, (6, 4, 3) if encoding != 'mono8' else (6, 4), dtype=np.uint8)
    msg = image_conv.numpy_to_image(arr, encoding, use_cv_bridge=True)
    assert np.array_equal(image_conv.image_to_numpy(msg, use_cv_bridge=True), arr)
    assert np.array_equal(image_conv.image_to_numpy(msg, use_cv_bridge=False), arr)


def test_bad_images_raise_image_error():
    with pytest.raises(image_conv.ImageError):
        image_conv.image_to_numpy(Image(height=4, width=4, encoding='rgb8', step=12, data=b'\x00' * 10),
                                  use_cv_bridge=False)
    with pytest.raises(image_conv.ImageError):
        image_conv.image_to_numpy(Image(height=2, width=2, encoding='32FC1', step=8, data=b'\x00' * 16),
                                  use_cv_bridge=False)
    with pytest.raises(image_conv.ImageError):
        image_conv.compressed_to_bgr(CompressedImage(format='jpeg', data=b'garbage'))


# ---------------------------------------------------------------------------- rclpy helpers
@pytest.fixture(scope='module')
def ros():
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    rclpy.init()
    yield
    rclpy.try_shutdown()


class Harness:
    def __init__(self, *nodes):
        self.ex = SingleThreadedExecutor()
        self.node = Node('vision_test_harness')
        self.nodes = list(nodes) + [self.node]
        for n in self.nodes:
            self.ex.add_node(n)

    def spin_until(self, cond, timeout=10.0):
        return spin_until(self.ex, cond, timeout)

    def close(self):
        for n in self.nodes:
            self.ex.remove_node(n)
            n.destroy_node()
        self.ex.shutdown()


def params(**kw):
    return [Parameter(k, value=v) for k, v in kw.items()]


# ---------------------------------------------------------------------------- camera_node
def test_camera_node_publishes_a_video_file(ros, tmp_path):
    from walkout_nodes.camera_node import CameraNode
    path = str(tmp_path / 'clip.avi')
    vw = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (320, 240))
    for k in range(5):
        vw.write(np.full((240, 320, 3), 40 * k, np.uint8))
    vw.release()
    cam = CameraNode(node_name='camera_node_t', parameter_overrides=params(
        camera_id='cam0', source=path, fps=50.0, publish_compressed=True))
    h = Harness(cam)
    got, jpegs = [], []
    h.node.create_subscription(Image, '/camera/cam0/image', got.append, qos_profile_sensor_data)
    h.node.create_subscription(CompressedImage, '/camera/cam0/image/compressed', jpegs.append, qos_profile_sensor_data)
    try:
        assert h.spin_until(lambda: len(got) >= 7 and jpegs, 10.0), 'no frames from the file (looping)'
        m = got[0]
        assert (m.encoding, m.width, m.height) == ('rgb8', 320, 240)
        assert image_conv.compressed_to_bgr(jpegs[0]).shape == (240, 320, 3)
        assert cam.diag.counters['opened'] == 1
    finally:
        h.close()


def test_camera_node_retries_with_backoff_and_reports(ros, tmp_path):
    from walkout_nodes.camera_node import CameraNode
    cam = CameraNode(node_name='camera_node_bad', parameter_overrides=params(
        camera_id='cam1', source=str(tmp_path / 'missing.avi'), fps=50.0, retry_initial_s=0.05, retry_max_s=0.2))
    h = Harness(cam)
    diags = []
    h.node.create_subscription(DiagnosticArray, '/diagnostics', diags.append, 10)
    try:
        assert h.spin_until(lambda: cam.diag.counters['capture'] >= 4 and any(
            'retry' in s.message and 'cam1' in s.message for d in diags for s in d.status), 10.0)
        assert cam._retry_s == pytest.approx(0.2)            # doubled up to retry_max_s
        assert cam.frames == 0
    finally:
        h.close()


# ---------------------------------------------------------------------------- detection + tracker nodes
def test_detection_node_publishes_floor_detections(ros):
    from walkout_nodes.detection_node import DetectionNode
    lay = load_layout('small')
    cam = lay.camera('cam0')
    node = DetectionNode(node_name='detection_node_t', parameter_overrides=params(
        camera_id='cam0', reliable_sensors=True, republish_rate_hz=5.0))
    h = Harness(node)
    pub = h.node.create_publisher(CompressedImage, '/camera/cam0/image/compressed', REPLAY_QOS)
    got, dbg = [], []
    h.node.create_subscription(PersonDetectionArray, '/camera/cam0/detections', got.append, REPLAY_QOS)
    h.node.create_subscription(Image, '/camera/cam0/image/debug', dbg.append, REPLAY_QOS)
    bg = render_background(cam, lay.shelves)
    people = [Person(1.5, 1.5, heading=math.pi / 2, hand=(1.6, 2.1), colour=(40, 60, 200))]  # BGR: red
    try:
        assert h.spin_until(lambda: pub.get_subscription_count() > 0 and node.cams['cam0'].sub.get_publisher_count()
                            > 0 and h.node.count_publishers('/camera/cam0/detections') > 0, 5.0)
        for k in range(4):
            msg = image_conv.bgr_to_compressed(render_frame(cam, bg, people if k else (), seed=k), 90)
            msg.header.stamp = sec_to_stamp(T0 + 0.1 * k)
            pub.publish(msg)
            assert h.spin_until(lambda k=k: len(got) > k, 5.0)
        last = got[-1]
        assert last.camera_id == 'cam0' and last.camera_ok and last.header.frame_id == 'map'
        assert len(last.detections) == 1
        d = last.detections[0]
        assert math.hypot(d.position.x - 1.5, d.position.y - 1.5) < 0.05 and d.has_reach
        assert math.hypot(d.reach_point.x - 1.6, d.reach_point.y - 2.1) < 0.08
        r, g, b = d.appearance_rgb                                  # clothing colour: red dominates
        assert 0.0 <= min(r, g, b) and max(r, g, b) <= 1.0 and r > 0.5 and r > 2.0 * g and r > 2.0 * b
        assert dbg, 'no debug frame republished'
        bad = CompressedImage(format='jpeg', data=b'not a jpeg')     # unusable frame: camera_ok false, no crash
        bad.header.stamp = sec_to_stamp(T0 + 1.0)
        pub.publish(bad)
        assert h.spin_until(lambda: len(got) > 4, 5.0) and got[-1].camera_ok is False
    finally:
        h.close()


def _dets(cam, stamp, *xy):
    m = PersonDetectionArray(camera_id=cam, camera_ok=True)
    m.header.stamp = sec_to_stamp(stamp)
    m.header.frame_id = 'map'
    for x, y in xy:
        d = PersonDetection(position_sigma_m=0.05, radius_m=0.2, area_m2=0.1, confidence=1.0)
        d.position.x, d.position.y = x, y
        d.reach_point.x, d.reach_point.y = x, y
        m.detections.append(d)
    return m


def test_tracker_node_publishes_avatars_and_markers(ros):
    from walkout_nodes.tracker_node import TrackerNode
    node = TrackerNode(node_name='tracker_node_t', parameter_overrides=params(reliable_sensors=True))
    h = Harness(node)
    pubs = {c: h.node.create_publisher(PersonDetectionArray, f'/camera/{c}/detections', REPLAY_QOS)
            for c in ('cam0', 'cam1', 'cam2', 'cam3')}
    avatars, markers = [], []
    h.node.create_subscription(AvatarArray, '/tracking/avatars', avatars.append, REPLAY_QOS)
    h.node.create_subscription(MarkerArray, '/tracking/markers', markers.append, 10)
    try:
        assert h.spin_until(lambda: all(p.get_subscription_count() > 0 for p in pubs.values()), 5.0)
        n = 15
        for k in range(n):
            t = T0 + 0.1 * k
            for c, p in pubs.items():   # cam2 and cam3 see nobody; cam1 is dead after 0.5 s
                if c == 'cam1' and k > 5:
                    continue
                p.publish(_dets(c, t, (1.2, 0.2 + 0.1 * k)) if c in ('cam0', 'cam1') else _dets(c, t))
            h.spin_until(lambda: False, 0.05)
        assert h.spin_until(lambda: len(avatars) >= n - 4, 5.0), f'{len(avatars)} avatar arrays'
        last = avatars[-1]
        assert len(last.avatars) == 1 and last.avatars[0].id == 1 and last.header.frame_id == 'map'
        assert abs(last.avatars[0].position.y - (0.2 + 0.1 * (len(avatars) - 1))) < 0.2
        stamps = [a.header.stamp.sec + a.header.stamp.nanosec * 1e-9 for a in avatars]
        assert stamps == sorted(stamps)
        ns = {m.ns for arr in markers for m in arr.markers}
        assert {'avatars', 'avatar_ids', 'shelves', 'gates', 'checkout_zones'} <= ns
        # bad input: a NaN detection is ignored, counted, no crash
        pubs['cam0'].publish(_dets('cam0', T0 + 5.0, (float('nan'), 1.0)))
        h.spin_until(lambda: node.diag.counters['detections'] > 0, 3.0)
        assert node.diag.counters['detections'] >= 1
        # a malformed appearance is ignored and counted (the position is still used)
        m = _dets('cam0', T0 + 5.1, (1.2, 1.7))
        m.detections[0].appearance_rgb = [float('nan'), 0.2, 0.1]
        pubs['cam0'].publish(m)
        h.spin_until(lambda: node.diag.counters['appearance'] > 0, 3.0)
        assert node.diag.counters['appearance'] >= 1
        # so is a malformed hand colour
        seen = node.diag.counters['appearance']
        m = _dets('cam0', T0 + 5.2, (1.2, 1.7))
        m.detections[0].hand_rgb = [0.2, float('inf'), 0.1]
        pubs['cam0'].publish(m)
        h.spin_until(lambda: node.diag.counters['appearance'] > seen, 3.0)
        assert node.diag.counters['appearance'] > seen
    finally:
        h.close()


# ---------------------------------------------------------------------------- replay of a suite bag
def _find_bag():
    env = os.environ.get('WALKOUT_TEST_BAG')
    cands = ([Path(env)] if env else []) + [ROOT / 'bags' / 'demo_small',
                                            ROOT / 'bags' / 'generated' / 'single_shopper',
                                            ROOT / 'bags' / 'single_shopper']
    for c in cands:
        if (c / 'metadata.yaml').is_file():
            return c
    return None


def test_replay_suite_bag_through_detection_and_tracker_nodes(ros):
    bag = _find_bag()
    if bag is None:
        pytest.skip('no suite bag found (set WALKOUT_TEST_BAG, or generate one: '
                    './walkout sim --scenario single_shopper --out bags/generated/single_shopper)')
    from rosbags.highlevel import AnyReader

    from walkout_core.bagio import typestore
    from walkout_core.eval.tracking_metrics import avatar_outputs_to_arrays, track_frames, tracking_metrics
    from walkout_nodes.detection_node import DetectionNode
    from walkout_nodes.tracker_node import TrackerNode
    dur = 12.0
    frames, truth = [], []
    with AnyReader([bag], default_typestore=typestore()) as r:
        conns = [c for c in r.connections if c.topic.endswith('/image/compressed') or c.topic == '/truth/persons']
        t_start = None
        for conn, t, raw in r.messages(connections=conns):
            t_start = t if t_start is None else t_start
            if t - t_start > dur * 1e9:
                break
            if conn.topic == '/truth/persons':
                truth.append((conn.topic, r.deserialize(raw, conn.msgtype)))
            else:
                frames.append((conn.topic, bytes(raw)))   # serialized CDR, published as is
    lay_name = 'flash' if len({t for t, _ in frames}) > 8 else 'small'
    lay = load_layout(lay_name)
    dets = [DetectionNode(node_name=f'detection_node_{c.id}', parameter_overrides=params(
        layout=lay_name, camera_id=c.id, reliable_sensors=True)) for c in lay.cameras]
    tracker = TrackerNode(node_name='tracker_node_replay', parameter_overrides=params(layout=lay_name,
                                                                                     reliable_sensors=True))
    h = Harness(*dets, tracker)
    pubs = {c.id: h.node.create_publisher(CompressedImage, f'/camera/{c.id}/image/compressed', REPLAY_QOS)
            for c in lay.cameras}
    avatars = []
    h.node.create_subscription(AvatarArray, '/tracking/avatars', avatars.append, REPLAY_QOS)
    try:
        assert h.spin_until(lambda: all(p.get_subscription_count() > 0 for p in pubs.values())
                            and h.node.count_publishers('/tracking/avatars') > 0, 10.0)
        sent = 0
        for topic, raw in frames:
            pubs[topic.split('/')[2]].publish(raw)
            sent += 1
            assert h.spin_until(lambda: tracker.received >= sent, 10.0), 'detection or tracker node stalled'
        tracker_done = h.spin_until(lambda: len(avatars) >= tracker.updates and tracker.updates > 0, 10.0)
        assert tracker_done
        tracker.flush()
        h.spin_until(lambda: len(avatars) >= tracker.updates, 5.0)
    finally:
        h.close()
    assert avatars, 'tracker published nothing'
    t_end = max(a.header.stamp.sec + a.header.stamp.nanosec * 1e-9 for a in avatars)
    truth_msgs = [m for _, m in truth if m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 <= t_end]
    m = tracking_metrics(truth_msgs, avatars)
    assert m['mota'] is not None and m['mota'] >= 0.9, m
    assert m['idf1'] >= 0.9, m
    # the nodes give exactly what the core gives on the same frames
    typed = typestore()
    core_in = []
    for topic, raw in frames:
        msg = typed.deserialize_cdr(raw, 'sensor_msgs/msg/CompressedImage')
        core_in.append((topic.split('/')[2], msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, bytes(msg.data)))
    core = avatar_outputs_to_arrays(track_frames(core_in, lay))
    assert len(core) == len(avatars)
    for c, g in zip(core, avatars):
        assert (c.header.stamp.sec, c.header.stamp.nanosec) == (g.header.stamp.sec, g.header.stamp.nanosec)
        assert [(a.id, round(a.position.x, 6), round(a.position.y, 6), a.has_reach) for a in c.avatars] == \
            [(a.id, round(a.position.x, 6), round(a.position.y, 6), a.has_reach) for a in g.avatars]
