"""shelf_event_node: /shelves/load_cells -> /shelves/events and /alerts.

A thin wrapper of :class:`walkout_core.shelf.pipeline.ShelfPipeline` (one detector per shelf
controller, store-wide identification). Time comes only from the readings' ``header.stamp``.
"""
from __future__ import annotations


import numpy as np
from rclpy.node import Node

from walkout_core.layout import load_layout
from walkout_core.shelf.config import ShelfEventConfig
from walkout_core.shelf.pipeline import AlertRecord, InputError, ShelfEventRecord, ShelfPipeline
from walkout_msgs.msg import LoadCellReadings, ShelfEvent, StoreAlert

from .common import EVENT_QOS, Diagnostics, declare_config, param_update_callback, run, sec_to_stamp, sensor_qos, stamp_to_sec

__all__ = ['ShelfEventNode', 'NODE_CLASS', 'main', 'event_to_msg', 'alert_to_msg']

_FIXED = ('layout', 'reliable_sensors')


def event_to_msg(e: ShelfEventRecord, frame_id: str = 'map') -> ShelfEvent:
    m = ShelfEvent()
    m.header.stamp = sec_to_stamp(e.start_t)
    m.header.frame_id = frame_id
    m.event_id, m.shelf_id, m.lane = e.event_id, e.shelf_id, int(e.lane)
    m.product_id, m.planogram_product_id = e.product_id, e.planogram_product_id
    m.quantity = int(e.quantity)
    m.weight_change_g = float(e.weight_change_g)
    m.confidence = float(e.confidence)
    m.flags = int(e.flags)
    m.lane_position.x, m.lane_position.y, m.lane_position.z = (float(v) for v in e.lane_position)
    m.settled_stamp = sec_to_stamp(e.settled_t)
    m.decided_stamp = sec_to_stamp(e.decided_t)
    return m


def alert_to_msg(a: AlertRecord, frame_id: str = 'map') -> StoreAlert:
    m = StoreAlert()
    m.header.stamp = sec_to_stamp(a.stamp_t)
    m.header.frame_id = frame_id
    m.alert_id = a.alert_id
    m.kind = getattr(StoreAlert, f'KIND_{a.kind}')
    m.state = getattr(StoreAlert, f'STATE_{a.state}')
    m.message = a.message
    m.shelf_id, m.lane = a.shelf_id, int(a.lane)
    m.location.x, m.location.y, m.location.z = (float(v) for v in a.location)
    m.product_ids = list(a.product_ids)
    m.event_ids = list(a.event_ids)
    m.evidence_start = sec_to_stamp(a.evidence_start_t)
    m.evidence_end = sec_to_stamp(a.evidence_end_t)
    m.evidence_json = a.evidence_json
    return m


class ShelfEventNode(Node):
    def __init__(self, node_name: str = 'shelf_event_node', **kwargs):
        super().__init__(node_name, **kwargs)
        self.cfg = declare_config(self, ShelfEventConfig)
        self.layout = load_layout(self.cfg.layout)
        self.pipeline = ShelfPipeline(self.layout, self.cfg)
        self.diag = Diagnostics(self, 'shelf events', period_s=self.cfg.diagnostics_period_s)
        self.pub_events = self.create_publisher(ShelfEvent, '/shelves/events', EVENT_QOS)
        self.pub_alerts = self.create_publisher(StoreAlert, '/alerts', EVENT_QOS)
        self.sub = self.create_subscription(LoadCellReadings, '/shelves/load_cells', self._on_readings,
                                            sensor_qos(self.cfg.reliable_sensors))
        self._open_faults: set[str] = set()
        self.add_on_set_parameters_callback(
            param_update_callback(self, ShelfEventConfig, lambda: self.cfg, self._apply_cfg, fixed=_FIXED))
        self.get_logger().info(f'layout {self.layout.name!r}: {self.layout.n_load_cells} load cells on '
                               f'{len(self.pipeline.blocks)} controllers')

    def _apply_cfg(self, cfg: ShelfEventConfig) -> None:
        self.cfg = cfg
        self.pipeline.set_config(cfg)

    def _on_readings(self, msg: LoadCellReadings) -> None:
        self.diag.count('readings')
        if self.diag.counters['readings'] % 200 == 1:
            for k, v in self.pipeline.stats().items():
                self.diag.counters[f'pipeline_{k}'] = v
        try:
            events, alerts = self.pipeline.update(
                msg.controller_id, stamp_to_sec(msg.header.stamp),
                np.asarray(msg.weights_g, dtype=np.float32), np.asarray(msg.status, dtype=np.uint8),
                msg.shelf_ids, msg.lanes)
        except InputError as exc:
            self.diag.problem(exc.key, f'dropped readings: {exc}')
            return
        except Exception as exc:  # noqa: BLE001 - a bad message must never stop the node
            self.diag.problem('internal_error', f'dropped readings of {msg.controller_id!r}: '
                                                f'{type(exc).__name__}: {exc}')
            return
        frame = self.layout.frame_id
        for e in events:
            self.pub_events.publish(event_to_msg(e, frame))
            self.diag.count('events')
        for a in alerts:
            self.pub_alerts.publish(alert_to_msg(a, frame))
            self.diag.count(f'alerts_{a.kind.lower()}_{a.state.lower()}')
            if a.kind == 'SENSOR_FAULT':
                if a.state == 'OPEN':
                    self._open_faults.add(a.alert_id)
                    self.diag.problem('sensor_fault', a.message)
                else:
                    self._open_faults.discard(a.alert_id)
                    if not self._open_faults:
                        self.diag.clear('sensor_fault')


NODE_CLASS = ShelfEventNode


def main(args=None) -> int:
    return run(ShelfEventNode, args)


if __name__ == '__main__':
    main()
