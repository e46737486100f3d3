"""Launch the walkout store from a layout: ``ros2 launch walkout_bringup store.launch.py``.

Arguments:
  layout:=small|flash|<path>   store layout (params/layouts/<name>.yaml)
  source:=live|bag             live sensors (camera and shelf-controller nodes) or a bag
  bag:=<dir>                   rosbag2 directory played by walkout_nodes/bag_player (source:=bag)
  rate:=1.0                    bag playback speed (0 = as fast as the graph keeps up)
  rviz:=true|false             start rviz2 with rviz/walkout.rviz
  host:=<name>|all             only the nodes of one compute host (docker/compose.yaml), default all

The node list, names, parameters and remappings come from the pure function
``walkout_bringup.graph.node_list(layout, source=...)``; this file only turns it into
``launch_ros.actions.Node`` actions (the in-process runner ``./walkout run`` uses the same list).
"""
from __future__ import annotations

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _share_file(*parts: str) -> str:
    """A file of the installed walkout_bringup share directory, else of the source tree."""
    try:
        from ament_index_python.packages import get_package_share_directory
        path = os.path.join(get_package_share_directory('walkout_bringup'), *parts)
        if os.path.exists(path):
            return path
    except Exception:  # noqa: BLE001 - not installed: use the source tree next to this file
        pass
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), *parts)


def _nodes(context, *args, **kwargs):
    from walkout_bringup.graph import load_node_params, node_list, replay_overrides
    from walkout_core.bagio import bag_topics
    layout = LaunchConfiguration('layout').perform(context)
    source = LaunchConfiguration('source').perform(context)
    bag = LaunchConfiguration('bag').perform(context)
    rate = float(LaunchConfiguration('rate').perform(context))
    host = LaunchConfiguration('host').perform(context)
    rviz = LaunchConfiguration('rviz').perform(context).lower() in ('1', 'true', 'yes')
    if source == 'bag' and not bag:
        raise RuntimeError('source:=bag needs bag:=<rosbag2 directory>')
    actions = []
    # a bag without the terminals' card stream: the checkout presents the card after a dwell in the zone
    overrides = replay_overrides(bag_topics(bag)) if source == 'bag' else None
    for spec in node_list(layout, source=source, overrides=overrides):
        if host not in ('', 'all') and spec.host != host:
            continue
        actions.append(Node(package=spec.package, executable=spec.executable, name=spec.name,
                            parameters=[dict(spec.parameters)], remappings=list(spec.remappings),
                            output='screen', emulate_tty=True))
    if source == 'bag' and host in ('', 'all', 'core'):
        params = load_node_params('bag_player')
        params.update(bag=bag, rate=rate, wait_for_subscribers_s=10.0, use_sim_time=False)
        actions.append(Node(package='walkout_nodes', executable='bag_player', name='bag_player',
                            parameters=[params], output='screen'))
    if rviz:
        actions.append(Node(package='rviz2', executable='rviz2', name='rviz2',
                            arguments=['-d', _share_file('rviz', 'walkout.rviz')],
                            parameters=[{'use_sim_time': source == 'bag'}]))
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument('layout', default_value='small',
                              description='store layout: small, flash or a path to a layout YAML file'),
        DeclareLaunchArgument('source', default_value='live', choices=['live', 'bag'],
                              description='live: camera and shelf-controller nodes read the sensors; '
                                          'bag: a rosbag2 bag feeds the graph'),
        DeclareLaunchArgument('bag', default_value='', description='rosbag2 directory to play when source:=bag'),
        DeclareLaunchArgument('rate', default_value='1.0',
                              description='bag playback speed (1 = as recorded, 0 = as fast as the graph keeps up)'),
        DeclareLaunchArgument('rviz', default_value='false', description='start rviz2 with rviz/walkout.rviz'),
        DeclareLaunchArgument('host', default_value='all',
                              description='start only the nodes of this compute host (layout camera hosts, core)'),
        OpaqueFunction(function=_nodes),
    ])
