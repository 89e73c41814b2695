"""Keep every ROS 2 process this package starts on this machine (localhost-only Fast DDS).

Which environment variable names the Fast DDS profile file depends on the Fast DDS version:

- Fast DDS 3 (ROS 2 Kilted and later, and the pinned Kilted wheels of the venv) reads
  FASTDDS_DEFAULT_PROFILES_FILE; its rmw prints a deprecation warning in every process whenever
  FASTRTPS_DEFAULT_PROFILES_FILE is set at all (even to the same file), so that one is unset.
- Fast DDS 2 (Humble, Iron, Jazzy) reads only FASTRTPS_DEFAULT_PROFILES_FILE.

The ROS_DISTRO variable (set by a ROS 2 install's setup.bash) tells them apart; without it (the
venv) it is Fast DDS 3.
"""

from __future__ import annotations

from collections.abc import MutableMapping
import os
from pathlib import Path
import sys

PROFILE_NAME = 'fastdds_localhost.xml'
FASTDDS_VARIABLE = 'FASTDDS_DEFAULT_PROFILES_FILE'
FASTRTPS_VARIABLE = 'FASTRTPS_DEFAULT_PROFILES_FILE'
#: ROS 2 distributions that ship Fast DDS 2.x.
FAST_DDS_2_DISTROS = ('humble', 'iron', 'jazzy')


def find_profile() -> Path | None:
    """The package's config/fastdds_localhost.xml: source checkout first, then the install."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent / 'config' / PROFILE_NAME,
                      Path(sys.prefix) / 'share' / 'rmdepth_ros' / 'config' / PROFILE_NAME):
        if candidate.is_file():
            return candidate
    return None


def profile_variable(env: MutableMapping[str, str] = os.environ) -> tuple[str, str]:
    """(the variable this Fast DDS reads, the one it does not) for the ROS 2 in `env`."""
    if env.get('ROS_DISTRO', '').strip().lower() in FAST_DDS_2_DISTROS:
        return FASTRTPS_VARIABLE, FASTDDS_VARIABLE
    return FASTDDS_VARIABLE, FASTRTPS_VARIABLE


def use_profile(profile: str | Path, env: MutableMapping[str, str] = os.environ) -> None:
    """Name `profile` in the variable this Fast DDS reads, and unset the other one."""
    read, other = profile_variable(env)
    env[read] = str(profile)
    env.pop(other, None)


def ensure_localhost_dds(say=print) -> None:
    """Set the localhost-only profile when the user has none; say what was done.

    Children (the node in live mode) inherit os.environ, so this covers them too. Must run
    before rclpy is imported.
    """
    if 'ROS_AUTOMATIC_DISCOVERY_RANGE' in os.environ:
        say('unsetting ROS_AUTOMATIC_DISCOVERY_RANGE: DDS stays on the localhost profile')
        os.environ.pop('ROS_AUTOMATIC_DISCOVERY_RANGE')
    read, other = profile_variable()
    own = os.environ.get(read) or os.environ.get(other)
    if own:  # the user's own profile, under whichever name: keep it, under the right one
        if not os.environ.get(read):
            say(f'{other} is not what this Fast DDS reads: using {read}={own}')
        use_profile(own)
        return
    profile = find_profile()
    if profile is None:
        say(f'warning: {read} is unset and config/{PROFILE_NAME} was not found: DDS uses its '
            'default (network) discovery')
        return
    use_profile(profile)
    say(f'{read} was unset: using the localhost-only DDS profile {profile}')
