# Source this file to enter walkout's environment (the ./walkout command and the Makefile do).
# Uses a sourced ROS 2 (ROS_DISTRO set) or the PyPI ROS 2 Jazzy wheels in .venv.
_walkout_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -f "$_walkout_root/.venv/bin/activate" ]; then
  # shellcheck disable=SC1091
  . "$_walkout_root/.venv/bin/activate"
fi
if [ -f "$_walkout_root/install/setup.bash" ]; then
  # shellcheck disable=SC1091
  . "$_walkout_root/install/setup.bash"
fi
# The source tree comes first, so an edit needs no rebuild; colcon's install serves `ros2 run/launch`.
export PYTHONPATH="$_walkout_root/src/walkout_core:$_walkout_root/src/walkout_nodes:$_walkout_root/src/walkout_bringup${PYTHONPATH:+:$PYTHONPATH}"
export WALKOUT_ROOT="$_walkout_root"
# DDS traffic stays on this machine; each run gets a domain of its own unless one is given.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( ($$ % 100) + 1 ))}"
export RCUTILS_COLORIZED_OUTPUT="${RCUTILS_COLORIZED_OUTPUT:-0}"
unset _walkout_root
