#!/bin/bash
# Source ROS 2 Jazzy and the walkout workspace, then run the command (default: store.launch.py).
set -e
source /opt/ros/jazzy/setup.bash
source /ws/install/setup.bash
exec "$@"
