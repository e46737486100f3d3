"""Small stand-in nodes with the node contract (NODE_CLASS, node_name=, parameter_overrides=).

They let the runner and evaluation tests run the real machinery (player, executor, DDS,
collector) before the real nodes exist: a weight drop on a lane becomes a ShelfEvent, and
every ShelfEvent becomes a line of avatar 1's basket.
"""
