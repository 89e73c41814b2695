"""Keep every ROS 2 process this package starts on this machine (localhost-only Fast DDS)."""

from __future__ import annotations

import os
from pathlib import Path
import sys

PROFILE_NAME = 'fastdds_localhost.xml'


def find_profile() -> Path | None:
    """The package's config/fastdds_localhost.xml: source checkout first, then the install."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent / 'config' / PROFILE_NAME,
                      Path(sys.prefix) / 'share' / 'rmdepth_ros' / 'config' / PROFILE_NAME):
        if candidate.is_file():
            return candidate
    return None


def ensure_localhost_dds(say=print) -> None:
    """Set the localhost-only profile when the user has none; say what was done.

    Children (the node in live mode) inherit os.environ, so this covers them too. Must run
    before rclpy is imported.
    """
    if 'ROS_AUTOMATIC_DISCOVERY_RANGE' in os.environ:
        say('unsetting ROS_AUTOMATIC_DISCOVERY_RANGE: DDS stays on the localhost profile')
        os.environ.pop('ROS_AUTOMATIC_DISCOVERY_RANGE')
    if os.environ.get('FASTRTPS_DEFAULT_PROFILES_FILE'):
        os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE',
                              os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'])
        return
    profile = find_profile()
    if profile is None:
        say('warning: FASTRTPS_DEFAULT_PROFILES_FILE is unset and config/fastdds_localhost.xml '
            'was not found: DDS uses its default (network) discovery')
        return
    os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(profile)
    os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(profile)
    say(f'FASTRTPS_DEFAULT_PROFILES_FILE was unset: using the localhost-only DDS profile '
        f'{profile}')
