"""camera_node: OpenCV capture (device index, video file or RTSP URL) -> sensor_msgs/Image.

A source that cannot open, stalls or disconnects is reopened with exponential backoff and
reported on /diagnostics; the node never exits because of its camera. Stamps: the node clock at
capture (``use_sim_time`` honoured).
"""
from __future__ import annotations

import cv2
from rclpy.node import Node
from rcl_interfaces.msg import SetParametersResult
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from walkout_core.config import from_mapping
from walkout_core.layout import load_layout
from walkout_core.vision.config import CameraNodeConfig
from walkout_core.vision.image import convert_encoding
from walkout_nodes.common import Diagnostics, declare_config, run, sensor_qos
from walkout_nodes.image_conv import bgr_to_compressed, numpy_to_image

__all__ = ['CameraNode', 'NODE_CLASS', 'CONFIG_CLASS', 'open_capture', 'main']

CONFIG_CLASS = CameraNodeConfig


def open_capture(source: str) -> cv2.VideoCapture:
    """A device index ('0'; 'device' = 0), a file path or a URL -> an opened or unopened VideoCapture."""
    src = source.strip()
    if src == 'device':
        src = '0'
    return cv2.VideoCapture(int(src)) if src.isdigit() else cv2.VideoCapture(src)


class CameraNode(Node):
    def __init__(self, node_name: str = 'camera_node', **kwargs):
        super().__init__(node_name, **kwargs)
        self.cfg = declare_config(self, CameraNodeConfig)
        c = self.cfg
        try:
            cam = load_layout(c.layout).camera(c.camera_id)
            self._size = (c.width or cam.width, c.height or cam.height)
            fps = c.fps or cam.fps
        except (KeyError, ValueError, OSError) as exc:
            self.get_logger().warning(f'camera {c.camera_id!r} not in layout {c.layout!r} ({exc}); using parameters')
            self._size = (c.width, c.height)
            fps = c.fps or 10.0
        self.diag = Diagnostics(self, f'camera {c.camera_id}')
        qos = sensor_qos(c.reliable_sensors)
        base = f'/camera/{c.camera_id}/image'
        self.pub_raw = self.create_publisher(Image, base, qos) if c.publish_raw else None
        self.pub_jpeg = (self.create_publisher(CompressedImage, base + '/compressed', qos)
                         if c.publish_compressed else None)
        self.cap: cv2.VideoCapture | None = None
        self._retry_s = c.retry_initial_s
        self._next_open_ns = 0
        self._last_frame_ns: int | None = None
        self.frames = 0
        self.timer = self.create_timer(1.0 / fps, self._tick)
        self.add_on_set_parameters_callback(self._on_params)

    def _on_params(self, params) -> SetParametersResult:
        values = {k: getattr(self.cfg, k) for k in self.cfg.__dataclass_fields__}
        values.update({p.name: p.value for p in params if p.name in values})
        try:
            from_mapping(CameraNodeConfig, values)
        except (ValueError, TypeError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=False, reason='camera_node parameters apply at start: restart the node')

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _schedule_retry(self, why: str) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None
        self.diag.problem('capture', f'camera {self.cfg.camera_id} ({self.cfg.source}): {why}; '
                          f'retry in {self._retry_s:.1f} s')
        self._next_open_ns = self._now_ns() + int(self._retry_s * 1e9)
        self._retry_s = min(self._retry_s * 2.0, self.cfg.retry_max_s)

    def _tick(self) -> None:
        now = self._now_ns()
        if self.cap is None:
            if now < self._next_open_ns:
                return
            cap = open_capture(self.cfg.source)
            if not cap.isOpened():
                cap.release()
                self._schedule_retry('cannot open')
                return
            self.cap = cap
            self._last_frame_ns = now
            self.diag.count('opened')
        ok, frame = self.cap.read()
        if not ok or frame is None:
            if self.cfg.loop_file and self.cap.get(cv2.CAP_PROP_FRAME_COUNT) > 0:
                self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, frame = self.cap.read()
        if not ok or frame is None:
            self.diag.count('read_failures')
            if now - (self._last_frame_ns or now) > self.cfg.stall_timeout_s * 1e9:
                self._schedule_retry(f'no frame for {self.cfg.stall_timeout_s:.1f} s (stalled or disconnected)')
            return
        self._last_frame_ns = now
        self._retry_s = self.cfg.retry_initial_s
        self.diag.clear('capture')
        self.publish_frame(frame, now)

    def publish_frame(self, bgr, stamp_ns: int) -> None:
        w, h = self._size
        if w and h and (bgr.shape[1] != w or bgr.shape[0] != h):
            bgr = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
        header = Header(frame_id=f'camera_{self.cfg.camera_id}')
        header.stamp.sec, header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
        if self.pub_raw is not None:
            self.pub_raw.publish(numpy_to_image(convert_encoding(bgr, 'bgr8', self.cfg.encoding), self.cfg.encoding,
                                                header))
        if self.pub_jpeg is not None:
            self.pub_jpeg.publish(bgr_to_compressed(bgr, self.cfg.jpeg_quality, header))
        self.frames += 1
        self.diag.count('frames')

    def destroy_node(self):
        if self.cap is not None:
            self.cap.release()
            self.cap = None
        return super().destroy_node()


NODE_CLASS = CameraNode


def main(args=None) -> int:
    return run(CameraNode, args)


if __name__ == '__main__':
    main()
