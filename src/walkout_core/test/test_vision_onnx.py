"""ONNX backend through cv2.dnn with a tiny model built here with the onnx package."""
import math

import cv2
import numpy as np
import pytest

onnx = pytest.importorskip('onnx')
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from walkout_core.layout import load_layout  # noqa: E402
from walkout_core.vision.config import DetectorConfig  # noqa: E402
from walkout_core.vision.detector import make_detector  # noqa: E402
from walkout_core.vision.onnx_detector import OnnxDetector  # noqa: E402

K = 9  # box filter size [px]


def build_model(path, h, w):
    """Conv 3->2, KxK box filters: channel 0 = blue (people), channel 1 = red (hands), then a sigmoid-free
    ReLU; input BGR scaled 0..1 as the backend feeds it."""
    wts = np.zeros((2, 3, K, K), np.float32)
    wts[0, 0] = 1.0 / (K * K)   # B
    wts[1, 2] = 1.0 / (K * K)   # R
    x = helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, h, w])
    y = helper.make_tensor_value_info('heat', TensorProto.FLOAT, [1, 2, h, w])
    conv = helper.make_node('Conv', ['image', 'W'], ['c'], pads=[K // 2] * 4, kernel_shape=[K, K])
    relu = helper.make_node('Relu', ['c'], ['heat'])
    graph = helper.make_graph([conv, relu], 'heatmap', [x], [y], [numpy_helper.from_array(wts, 'W')])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    lay = load_layout('small')
    cam = lay.camera('cam0')
    path = tmp_path_factory.mktemp('onnx') / 'heat.onnx'
    build_model(path, cam.height, cam.width)
    return lay, cam, path


def test_onnx_backend_finds_people_and_hands(setup):
    lay, cam, path = setup
    det = make_detector(cam, DetectorConfig(backend='onnx', onnx_model_path=str(path), onnx_threshold=0.4), lay.shelves)
    assert isinstance(det, OnnxDetector)
    img = np.full((cam.height, cam.width, 3), 20, np.uint8)
    people = [(1.0, 1.0), (2.5, 2.0)]
    for x, y in people:
        u, v = cam.floor_to_image([x, y])[0]
        cv2.circle(img, (int(u), int(v)), 4, (255, 0, 0), -1)      # blue blob: a person
    hu, hv = cam.floor_to_image([2.5, 2.5])[0]
    cv2.circle(img, (int(hu), int(hv)), 4, (0, 0, 255), -1)        # red blob: the hand of the 2nd
    heat = det.infer(img)
    assert heat.shape == (2, cam.height, cam.width) and heat.max() > 0.4
    res = det.detect(img, 1.0)
    assert res.camera_ok and len(res.detections) == 2
    for x, y in people:
        d = min(res.detections, key=lambda d: math.hypot(d.x - x, d.y - y))
        assert math.hypot(d.x - x, d.y - y) < 2 * cam.metres_per_pixel
    reacher = min(res.detections, key=lambda d: math.hypot(d.x - 2.5, d.y - 2.0))
    other = min(res.detections, key=lambda d: math.hypot(d.x - 1.0, d.y - 1.0))
    assert reacher.has_reach and not other.has_reach
    assert math.hypot(reacher.reach_x - 2.5, reacher.reach_y - 2.5) < 2 * cam.metres_per_pixel


def test_onnx_backend_rejects_missing_or_broken_models(setup, tmp_path):
    lay, cam, _ = setup
    with pytest.raises(FileNotFoundError, match='onnx_model_path'):
        OnnxDetector(cam, DetectorConfig(backend='onnx', onnx_model_path=str(tmp_path / 'none.onnx')))
    bad = tmp_path / 'bad.onnx'
    bad.write_bytes(b'not a model')
    with pytest.raises(ValueError, match='onnx_model_path'):
        OnnxDetector(cam, DetectorConfig(backend='onnx', onnx_model_path=str(bad)))
