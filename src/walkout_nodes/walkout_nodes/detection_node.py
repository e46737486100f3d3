"""detection_node: one per camera. Frames -> floor-frame person detections (walkout_msgs/PersonDetectionArray).

Subscribes ``/camera/<id>/image/compressed`` (image_transport compressed) or ``/camera/<id>/image``
(raw), runs the core detector (background model or ONNX) and publishes ``/camera/<id>/detections``
with the frame's stamp, every frame, also when nobody is there or the frame is unusable
(``camera_ok`` false). Optionally republishes frames with the detections drawn on
``/camera/<id>/image/debug`` at most ``republish_rate_hz`` (stamp time).
"""
from __future__ import annotations

import dataclasses

import cv2
from geometry_msgs.msg import Point
from rclpy.node import Node
from rcl_interfaces.msg import SetParametersResult
from sensor_msgs.msg import CompressedImage, Image

from walkout_core.config import from_mapping
from walkout_core.layout import load_layout
from walkout_core.vision.config import DetectionNodeConfig, DetectorConfig
from walkout_core.vision.detector import FrameDetections, make_detector
from walkout_core.vision.image import ImageError
from walkout_msgs.msg import PersonDetection, PersonDetectionArray
from walkout_nodes.common import Diagnostics, declare_config, run, sensor_qos, stamp_to_sec
from walkout_nodes.image_conv import compressed_to_bgr, image_to_bgr, numpy_to_image

__all__ = ['DetectionNode', 'NODE_CLASS', 'CONFIG_CLASS', 'detections_to_msg', 'main']

CONFIG_CLASS = DetectionNodeConfig
#: parameters that need a restart (topics, layout)
_FIXED = ('layout', 'camera_id', 'camera_ids', 'image_transport', 'reliable_sensors', 'republish_rate_hz',
          'opencv_threads')
_DETECTOR_FIELDS = tuple(f.name for f in dataclasses.fields(DetectorConfig))


def detections_to_msg(res: FrameDetections, camera_id: str, header) -> PersonDetectionArray:
    msg = PersonDetectionArray(camera_id=camera_id, camera_ok=bool(res.camera_ok))
    msg.header.stamp = header.stamp
    msg.header.frame_id = 'map'
    for d in res.detections:
        msg.detections.append(PersonDetection(
            position=Point(x=float(d.x), y=float(d.y), z=0.0), position_sigma_m=float(d.sigma_m),
            radius_m=float(d.radius_m), area_m2=float(d.area_m2), has_reach=bool(d.has_reach),
            reach_point=Point(x=float(d.reach_x), y=float(d.reach_y), z=0.0) if d.has_reach
            else Point(x=float(d.x), y=float(d.y), z=0.0),
            confidence=float(d.confidence),
            # zeros = not measured (e.g. the ONNX backend); used by the tracker during the visit only
            appearance_rgb=[float(v) for v in d.appearance] if getattr(d, 'appearance', None) else [0.0] * 3,
            hand_rgb=[float(v) for v in d.hand_rgb] if getattr(d, 'hand_rgb', None) else [0.0] * 3))
    return msg


class _Camera:
    """Per-camera state of a detection node: detector, topics, last stamps."""

    def __init__(self, camera, detector):
        self.camera, self.detector = camera, detector
        self.pub = self.pub_debug = self.sub = None
        self.last_stamp: float | None = None
        self.last_debug: float | None = None
        self.frames = 0


class DetectionNode(Node):
    def __init__(self, node_name: str = 'detection_node', **kwargs):
        super().__init__(node_name, **kwargs)
        self.cfg = declare_config(self, DetectionNodeConfig)
        c = self.cfg
        self.layout = load_layout(c.layout)
        if c.opencv_threads > 0:
            cv2.setNumThreads(c.opencv_threads)
        ids = [i for i in c.camera_ids if i] or [c.camera_id]
        self.cams: dict[str, _Camera] = {}
        for cid in ids:
            try:
                cam = self.layout.camera(cid)
            except KeyError as exc:
                raise ValueError(f'parameter camera_id(s): {cid!r} is not a camera of layout {c.layout!r}') from exc
            self.cams[cid] = _Camera(cam, make_detector(cam, c, self.layout.shelves))
        self.diag = Diagnostics(self, f'detection {",".join(ids)}')
        qos = sensor_qos(c.reliable_sensors)
        for cid, st in self.cams.items():
            base = f'/camera/{cid}'
            st.pub = self.create_publisher(PersonDetectionArray, f'{base}/detections', qos)
            if c.republish_rate_hz > 0:
                st.pub_debug = self.create_publisher(Image, f'{base}/image/debug', qos)
            if c.image_transport == 'compressed':
                st.sub = self.create_subscription(CompressedImage, f'{base}/image/compressed',
                                                  lambda m, st=st: self._process(st, m, compressed_to_bgr), qos)
            else:
                st.sub = self.create_subscription(Image, f'{base}/image',
                                                  lambda m, st=st: self._process(st, m, image_to_bgr), qos)
        self.add_on_set_parameters_callback(self._on_params)

    @property
    def frames(self) -> int:
        return sum(st.frames for st in self.cams.values())

    # ------------------------------------------------------------------ parameters
    def _on_params(self, params) -> SetParametersResult:
        values = {f.name: getattr(self.cfg, f.name) for f in dataclasses.fields(self.cfg)}
        for p in params:
            if p.name in _FIXED and p.value != values.get(p.name):
                return SetParametersResult(successful=False, reason=f'parameter {p.name!r} applies at start only')
            if p.name in values:
                values[p.name] = list(p.value) if isinstance(values[p.name], list) else p.value
        try:
            cfg = from_mapping(DetectionNodeConfig, values)
            detectors = {cid: make_detector(st.camera, cfg, self.layout.shelves) for cid, st in self.cams.items()}
        except (ValueError, TypeError, OSError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        if any(getattr(cfg, k) != getattr(self.cfg, k) for k in _DETECTOR_FIELDS):
            for cid, st in self.cams.items():  # new model: the background is learnt again
                st.detector = detectors[cid]
        self.cfg = cfg
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ frames
    def _process(self, st: _Camera, msg, decode) -> None:
        cid = st.camera.id
        stamp = stamp_to_sec(msg.header.stamp)
        if st.last_stamp is not None and stamp <= st.last_stamp:
            self.diag.problem(f'stamp_{cid}', f'camera {cid}: frame stamp {stamp:.3f} not after '
                              f'{st.last_stamp:.3f}: dropped')
            return
        st.last_stamp = stamp
        try:
            bgr = decode(msg)
        except (ImageError, cv2.error) as exc:
            self.diag.problem(f'decode_{cid}', f'camera {cid}: unusable frame: {exc}')
            res = FrameDetections(False, (), str(exc))
        else:
            res = st.detector.detect(bgr, stamp)
            if not res.camera_ok:
                self.diag.problem(f'camera_{cid}', f'camera {cid}: {res.reason}')
            else:
                self.diag.clear(f'camera_{cid}')
                self.diag.clear(f'decode_{cid}')
            self._republish(st, bgr, res, msg.header, stamp)
        st.pub.publish(detections_to_msg(res, cid, msg.header))
        st.frames += 1
        self.diag.count('frames')
        self.diag.count('detections', len(res.detections))

    def _republish(self, st: _Camera, bgr, res: FrameDetections, header, stamp: float) -> None:
        if st.pub_debug is None or self.cfg.republish_rate_hz <= 0:
            return
        if st.last_debug is not None and stamp - st.last_debug < 1.0 / self.cfg.republish_rate_hz:
            return
        st.last_debug = stamp
        img = bgr.copy()
        if self.cfg.republish_overlay:
            for d in res.detections:
                cv2.circle(img, (int(d.u), int(d.v)), max(2, int(d.radius_m / st.camera.metres_per_pixel)),
                           (0, 255, 0), 1)
                if d.has_reach:
                    cv2.line(img, (int(d.u), int(d.v)), (int(d.reach_u), int(d.reach_v)), (255, 0, 255), 1)
        out = numpy_to_image(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), 'rgb8')
        out.header.stamp = header.stamp
        out.header.frame_id = f'camera_{st.camera.id}'
        st.pub_debug.publish(out)


NODE_CLASS = DetectionNode


def main(args=None) -> int:
    return run(DetectionNode, args)


if __name__ == '__main__':
    main()
