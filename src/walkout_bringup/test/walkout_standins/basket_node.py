"""Stand-in: every ShelfEvent adds its quantity to avatar 1's basket; the state is latched."""
from rclpy.node import Node

from walkout_msgs.msg import Basket, BasketArray, BasketItem, ShelfEvent
from walkout_nodes.bag_player import qos_for_topic


class StandinBasketNode(Node):
    def __init__(self, node_name='basket_node', **kwargs):
        super().__init__(node_name, **kwargs)
        self._items = {}
        self._pub = self.create_publisher(BasketArray, '/baskets/state', qos_for_topic('/baskets/state', True))
        self.create_subscription(ShelfEvent, '/shelves/events', self._on, qos_for_topic('/shelves/events', True))

    def _on(self, ev):
        self._items[ev.product_id] = self._items.get(ev.product_id, 0) + ev.quantity
        arr = BasketArray()
        arr.header.stamp = ev.header.stamp
        arr.baskets = [Basket(avatar_id=1, items=[BasketItem(product_id=p, quantity=q)
                                                  for p, q in sorted(self._items.items())])]
        self._pub.publish(arr)


NODE_CLASS = StandinBasketNode
