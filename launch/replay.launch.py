"""Replay a bag through the store graph and watch it in rviz:
``ros2 launch walkout_bringup replay.launch.py bag:=bags/demo_small [layout:=small] [rate:=1.0] [rviz:=true]``.

Same as ``store.launch.py source:=bag rviz:=true``.
"""
from __future__ import annotations

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration


def generate_launch_description() -> LaunchDescription:
    store = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'store.launch.py')
    return LaunchDescription([
        DeclareLaunchArgument('bag', description='rosbag2 directory to replay'),
        DeclareLaunchArgument('layout', default_value='small', description='store layout of the bag'),
        DeclareLaunchArgument('rate', default_value='1.0', description='playback speed (0 = as fast as possible)'),
        DeclareLaunchArgument('rviz', default_value='true', description='start rviz2'),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(store), launch_arguments={
            'source': 'bag', 'bag': LaunchConfiguration('bag'), 'layout': LaunchConfiguration('layout'),
            'rate': LaunchConfiguration('rate'), 'rviz': LaunchConfiguration('rviz')}.items()),
    ])
