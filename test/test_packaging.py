"""setup.py as colcon runs it: nothing on stderr (colcon reports any stderr output as a
problem of the package), and the version that package.xml gives."""

from __future__ import annotations

from pathlib import Path
import re
import subprocess
import sys

ROOT = Path(__file__).resolve().parent.parent


def test_setup_py_is_quiet_and_agrees_with_package_xml() -> None:
    run = subprocess.run([sys.executable, 'setup.py', '--name', '--version'], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stderr == '', run.stderr  # e.g. "Unknown distribution option: 'tests_require'"
    package_xml = (ROOT / 'package.xml').read_text()
    name = re.search(r'<name>(.*)</name>', package_xml).group(1)
    version = re.search(r'<version>(.*)</version>', package_xml).group(1)
    assert run.stdout.split() == [name, version]
