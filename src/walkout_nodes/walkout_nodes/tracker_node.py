"""tracker_node: every camera's detections -> anonymous avatars (/tracking/avatars) and rviz markers.

Detections are grouped by header.stamp (core ``StampSynchroniser``): an instant is processed when
every live camera has reported it or a newer stamp is ``latency_window_s`` later; a dead camera
never stalls the tracker. Time comes from the stamps only.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Vector3
from rclpy.node import Node
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from walkout_core.layout import load_layout
from walkout_core.tracking.config import TrackerNodeConfig
from walkout_core.tracking.sync import StampSynchroniser
from walkout_core.tracking.tracker import (STATE_EXITED, TRACK_DELETED, AvatarTracker, CameraFrame,
                                           TrackerInputError, TrackerOutput)
from walkout_msgs.msg import Avatar, AvatarArray, PersonDetectionArray
from walkout_nodes.common import EVENT_QOS, Diagnostics, declare_config, param_update_callback, run, sec_to_stamp, sensor_qos, stamp_to_sec

__all__ = ['TrackerNode', 'NODE_CLASS', 'CONFIG_CLASS', 'avatars_to_msg', 'layout_markers', 'avatar_markers', 'main']

CONFIG_CLASS = TrackerNodeConfig
_FIXED = ('layout', 'reliable_sensors')
GATE_COLOURS = {'entry': (0.1, 0.8, 0.2), 'exit': (0.9, 0.2, 0.1), 'staff': (0.2, 0.4, 0.9)}


class _Det(NamedTuple):
    """A PersonDetection as the core tracker reads it."""

    x: float
    y: float
    sigma_m: float
    has_reach: bool
    reach_x: float
    reach_y: float
    confidence: float
    area_m2: float
    appearance_rgb: tuple  # [0..1] clothing colour, all zeros = not measured
    hand_rgb: tuple        # [0..1] colour at the hand, all zeros = not measured


def _frame_of(msg: PersonDetectionArray) -> CameraFrame:
    return CameraFrame(msg.camera_id, bool(msg.camera_ok), [
        _Det(d.position.x, d.position.y, d.position_sigma_m, d.has_reach, d.reach_point.x, d.reach_point.y,
             d.confidence, d.area_m2, tuple(d.appearance_rgb), tuple(d.hand_rgb)) for d in msg.detections])


def avatars_to_msg(out: TrackerOutput, frame_id: str) -> AvatarArray:
    msg = AvatarArray()
    msg.header.stamp = sec_to_stamp(out.stamp)
    msg.header.frame_id = frame_id
    for a in out.avatars:
        msg.avatars.append(Avatar(
            id=a.id, color=ColorRGBA(r=a.colour[0], g=a.colour[1], b=a.colour[2], a=1.0), state=a.state,
            track_status=a.track_status, is_staff=a.is_staff, checkout_zone_id=a.checkout_zone_id,
            position=Point(x=a.x, y=a.y, z=0.0), velocity=Vector3(x=a.vx, y=a.vy, z=0.0),
            position_covariance=list(a.covariance), has_reach=a.has_reach,
            reach_point=Point(x=a.reach_x, y=a.reach_y, z=1.0 if a.has_reach else 0.0),
            hand_rgb=list(a.hand_rgb) if a.hand_rgb is not None else [0.0] * 3,
            first_seen=sec_to_stamp(a.first_seen), last_seen=sec_to_stamp(a.last_seen)))
    return msg


def _outline(ns: str, mid: int, pts, rgb, header: Header, width: float = 0.04, z: float = 0.01) -> Marker:
    m = Marker(ns=ns, id=mid, type=Marker.LINE_STRIP, action=Marker.ADD, header=header)
    m.pose.orientation.w = 1.0
    m.scale.x = width
    m.color = ColorRGBA(r=rgb[0], g=rgb[1], b=rgb[2], a=1.0)
    m.points = [Point(x=float(x), y=float(y), z=z) for x, y in list(pts) + [pts[0]]]
    return m


def layout_markers(layout, header: Header) -> list[Marker]:
    """Floor outline, shelves (boxes), gates and checkout zones (outlines) with labels."""
    out = [_outline('floor', 0, layout.floor.points, (0.6, 0.6, 0.6), header)]
    for i, s in enumerate(layout.shelves):
        m = Marker(ns='shelves', id=i, type=Marker.CUBE, action=Marker.ADD, header=header)
        m.pose.position = Point(x=s.x, y=s.y, z=s.z / 2)
        m.pose.orientation.z, m.pose.orientation.w = math.sin(s.yaw / 2), math.cos(s.yaw / 2)
        m.scale = Vector3(x=s.length, y=s.depth, z=max(0.02, s.z))
        m.color = ColorRGBA(r=0.55, g=0.45, b=0.35, a=0.6)
        out.append(m)
    for i, g in enumerate(layout.gates):
        out.append(_outline('gates', i, g.polygon.points, GATE_COLOURS.get(g.kind, (1.0, 1.0, 1.0)), header))
    for i, z in enumerate(layout.checkout_zones):
        out.append(_outline('checkout_zones', i, z.polygon.points, (1.0, 0.8, 0.0), header))
    labels = [(g.id, g.polygon.centroid) for g in layout.gates] + [(z.id, z.polygon.centroid)
                                                                   for z in layout.checkout_zones]
    for i, (text, (x, y)) in enumerate(labels):
        m = Marker(ns='zone_labels', id=i, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD, header=header, text=text)
        m.pose.position = Point(x=x, y=y, z=0.3)
        m.pose.orientation.w = 1.0
        m.scale.z = 0.2
        m.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
        out.append(m)
    return out


def avatar_markers(out: TrackerOutput, header: Header, height: float, lifetime_s: float) -> list[Marker]:
    """Per avatar: a cylinder in its colour, its id as text, its reach point (sphere) when reaching."""
    life = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1) * 1e9))
    ms = []
    for a in out.avatars:
        gone = a.state == STATE_EXITED or a.track_status == TRACK_DELETED
        col = ColorRGBA(r=a.colour[0], g=a.colour[1], b=a.colour[2], a=0.5 if a.track_status == 2 else 0.9)
        cyl = Marker(ns='avatars', id=a.id, type=Marker.CYLINDER, header=header, lifetime=life,
                     action=Marker.DELETE if gone else Marker.ADD)
        cyl.pose.position = Point(x=a.x, y=a.y, z=height / 2)
        cyl.pose.orientation.w = 1.0
        cyl.scale = Vector3(x=0.45, y=0.45, z=height)
        cyl.color = col
        txt = Marker(ns='avatar_ids', id=a.id, type=Marker.TEXT_VIEW_FACING, header=header, lifetime=life,
                     action=Marker.DELETE if gone else Marker.ADD, text=f'{a.id}{" staff" if a.is_staff else ""}')
        txt.pose.position = Point(x=a.x, y=a.y, z=height + 0.25)
        txt.pose.orientation.w = 1.0
        txt.scale.z = 0.3
        txt.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
        reach = Marker(ns='reach', id=a.id, type=Marker.SPHERE, header=header, lifetime=life,
                       action=Marker.ADD if a.has_reach and not gone else Marker.DELETE)
        reach.pose.position = Point(x=a.reach_x, y=a.reach_y, z=1.0)
        reach.pose.orientation.w = 1.0
        reach.scale = Vector3(x=0.12, y=0.12, z=0.12)
        reach.color = ColorRGBA(r=a.colour[0], g=a.colour[1], b=a.colour[2], a=1.0)
        ms += [cyl, txt, reach]
    return ms


class TrackerNode(Node):
    def __init__(self, node_name: str = 'tracker_node', **kwargs):
        super().__init__(node_name, **kwargs)
        self.cfg = declare_config(self, TrackerNodeConfig)
        c = self.cfg
        self.layout = load_layout(c.layout)
        self.camera_ids = [cam.id for cam in self.layout.cameras]
        self.tracker = AvatarTracker(self.layout, c)
        self.sync = StampSynchroniser(self.camera_ids, c.latency_window_s, c.camera_dead_after_s, c.sync_tolerance_s)
        self.diag = Diagnostics(self, 'tracker')
        self.pub = self.create_publisher(AvatarArray, '/tracking/avatars', EVENT_QOS)
        self.pub_markers = self.create_publisher(MarkerArray, '/tracking/markers', 10)
        qos = sensor_qos(c.reliable_sensors)
        self.subs = [self.create_subscription(PersonDetectionArray, f'/camera/{cid}/detections',
                                              lambda m, cid=cid: self._on_detections(cid, m), qos)
                     for cid in self.camera_ids]
        self._last_layout_markers: float | None = None
        self.updates = 0
        self.received = 0
        self.add_on_set_parameters_callback(
            param_update_callback(self, TrackerNodeConfig, lambda: self.cfg, self._apply_cfg, fixed=_FIXED))

    def _apply_cfg(self, cfg: TrackerNodeConfig) -> None:
        self.cfg = cfg
        self.tracker.cfg = cfg  # thresholds apply from the next update; gates keep their margins
        self.sync.latency, self.sync.dead_after, self.sync.tol = (cfg.latency_window_s, cfg.camera_dead_after_s,
                                                                  cfg.sync_tolerance_s)

    def _on_detections(self, topic_cam: str, msg: PersonDetectionArray) -> None:
        self.received += 1
        if msg.camera_id and msg.camera_id != topic_cam:
            self.diag.problem('camera_id', f'detections on /camera/{topic_cam}/detections name camera '
                              f'{msg.camera_id!r}: dropped')
            return
        stamp = stamp_to_sec(msg.header.stamp)
        if not math.isfinite(stamp):
            self.diag.problem('stamp', f'camera {topic_cam}: stamp is not finite: dropped')
            return
        late = self.sync.late
        ready = self.sync.add(topic_cam, stamp, _frame_of(msg))
        if self.sync.late > late:
            self.diag.problem('late', f'camera {topic_cam}: detections at {stamp:.3f} arrived after that instant '
                              f'was processed: dropped')
        if not msg.camera_ok:
            self.diag.count(f'camera_not_ok_{topic_cam}')
        for t, group in ready:
            self._update(t, list(group.values()))

    def _update(self, stamp: float, frames: list[CameraFrame]) -> None:
        try:
            out = self.tracker.update(stamp, frames)
        except TrackerInputError as exc:
            self.diag.problem('input', f'tracker input refused: {exc}')
            return
        if out.rejected:
            self.diag.problem('detections', f'{out.rejected} invalid detection(s) (NaN or off the floor) ignored')
        if out.rejected_appearance:
            self.diag.problem('appearance', f'{out.rejected_appearance} detection(s) with a malformed appearance_rgb '
                              'or hand_rgb (NaN or outside 0..1): that colour ignored')
        self.updates += 1
        self.diag.count('updates')
        self.diag.count('births', out.births)
        self.diag.count('exits', out.exits)
        self.pub.publish(avatars_to_msg(out, self.layout.frame_id))
        if self.cfg.markers:
            self._publish_markers(out)

    def _publish_markers(self, out: TrackerOutput) -> None:
        header = Header(frame_id=self.layout.frame_id, stamp=sec_to_stamp(out.stamp))
        markers = avatar_markers(out, header, self.cfg.marker_height_m, self.cfg.marker_lifetime_s)
        last = self._last_layout_markers
        if last is None or out.stamp - last >= self.cfg.layout_markers_period_s:
            self._last_layout_markers = out.stamp
            markers = layout_markers(self.layout, header) + markers
        if markers:
            self.pub_markers.publish(MarkerArray(markers=markers))

    def flush(self) -> None:
        """Process every pending instant (end of a replay)."""
        for t, group in self.sync.flush():
            self._update(t, list(group.values()))


NODE_CLASS = TrackerNode


def main(args=None) -> int:
    return run(TrackerNode, args)


if __name__ == '__main__':
    main()
