"""Stand-in: a drop of more than ``min_change_g`` on a lane -> one ShelfEvent (quantity 1)."""
from rclpy.node import Node

from walkout_msgs.msg import LoadCellReadings, ShelfEvent
from walkout_nodes.bag_player import qos_for_topic


class StandinShelfEventNode(Node):
    def __init__(self, node_name='shelf_event_node', **kwargs):
        super().__init__(node_name, **kwargs)
        self.min_change_g = self.declare_parameter('min_change_g', 100.0).value
        self.declare_parameter('reliable_sensors', True)
        self._last = {}
        self._pub = self.create_publisher(ShelfEvent, '/shelves/events', qos_for_topic('/shelves/events', True))
        self.create_subscription(LoadCellReadings, '/shelves/load_cells', self._on, qos_for_topic(
            '/shelves/load_cells', self.get_parameter('reliable_sensors').value))

    def _on(self, msg):
        for shelf, lane, w in zip(msg.shelf_ids, msg.lanes, msg.weights_g):
            key = (shelf, int(lane))
            prev = self._last.get(key)
            self._last[key] = float(w)
            if prev is not None and prev - w > self.min_change_g:
                ev = ShelfEvent(event_id=f'{shelf}-{lane}-{msg.sequence}', shelf_id=shelf, lane=int(lane),
                                quantity=1, product_id='p001', weight_change_g=float(w - prev))
                ev.header.stamp = msg.header.stamp
                ev.decided_stamp = msg.header.stamp
                self._pub.publish(ev)


NODE_CLASS = StandinShelfEventNode
