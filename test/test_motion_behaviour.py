"""The behavioural checks of test/motion_behaviour_checks.py that the shipped weights pass.

The yaw-only pair (the camera turns +-4 deg on the spot in a static world) must give the right
sign and a magnitude within 30 %. The identical-frame and reversed-pair checks are still outside
the suite: the shipped weights miss them narrowly (docs/weights.md);
`python test/motion_behaviour_checks.py` prints all three.
"""

from __future__ import annotations

from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).resolve().parent))

from motion_behaviour_checks import _estimator, check_yaw_only  # noqa: E402


def test_yaw_only_pair_gives_the_yaw():
    check = check_yaw_only(_estimator())
    assert check.passed, check.numbers
