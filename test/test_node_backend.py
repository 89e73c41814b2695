"""rmdepth_node's `backend` parameter: the default (auto), start-up log, /diagnostics values,
missing packages.

The ONNX backends' outputs are compared with PyTorch's in test_backends.py; here only what the
node says about its backend, and that a missing optional package stops it with one line.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.ros

TIMEOUT = 120.0  # a node process imports torch and loads weights: slow on a busy machine


def _first_installed() -> str | None:
    for backend in ('openvino', 'onnxruntime'):
        try:
            importlib.import_module(backend)
            importlib.import_module('onnx')
        except ImportError:
            continue
        return backend
    return None


ONNX_BACKEND = _first_installed()
needs_onnx_backend = pytest.mark.skipif(
    ONNX_BACKEND is None, reason='needs onnx and openvino or onnxruntime '
    '(pip install -r requirements-backends.txt)')


def _node_process(code: str, args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, '-c', code, '--ros-args'] + args,
                            env=dict(os.environ), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


START = 'import sys; from rmdepth_ros.ros.startup import main; sys.exit(main())'


@needs_onnx_backend
def test_diagnostics_values_name_the_backend(tiny_weights: Path) -> None:
    rclpy = pytest.importorskip('rclpy')
    from rclpy.parameter import Parameter

    from rmdepth_ros.ros.node import RMDepthNode

    context = rclpy.Context()
    rclpy.init(context=context)
    node = RMDepthNode(context=context, parameter_overrides=[
        Parameter('weights', value=str(tiny_weights)), Parameter('device', value='cpu'),
        Parameter('backend', value=ONNX_BACKEND)])
    try:
        values = node.model_values()
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
    assert values['backend'].startswith(f'{ONNX_BACKEND} ') and 'threads' in values['backend']
    assert values['model_id'] == node.estimator.model_id != 'in-memory'
    assert values['input_size'] == '64x32' and values['device'] == 'cpu'
    assert Path(values['onnx_cache']) == tiny_weights.parent
    assert len(list(tiny_weights.parent.glob(f'*{values["model_id"]}-*.64x32.*.onnx'))) == 2


def test_the_default_backend_is_auto_and_says_what_it_chose(tiny_weights: Path) -> None:
    rclpy = pytest.importorskip('rclpy')
    from rclpy.parameter import Parameter

    from rmdepth_ros.backends import choose_backend
    from rmdepth_ros.ros.node import RMDepthNode

    context = rclpy.Context()
    rclpy.init(context=context)
    node = RMDepthNode(context=context, parameter_overrides=[
        Parameter('weights', value=str(tiny_weights)), Parameter('device', value='cpu')])
    try:
        values, config = node.model_values(), node.config
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
    expected, why = choose_backend('cpu')
    assert config.backend == 'auto'
    assert values['backend'].startswith(f'{expected} ') and values['backend_choice'] == why


@needs_onnx_backend
def test_start_up_log_names_the_backend(tiny_weights: Path) -> None:
    run = _node_process(START, ['-p', f'weights:={tiny_weights}', '-p', 'device:=cpu',
                                '-p', f'backend:={ONNX_BACKEND}'])
    lines = []
    try:
        for line in run.stdout:
            lines.append(line.rstrip('\n'))
            if 'listening on' in line:
                break
    finally:
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=TIMEOUT)
    lines += output.splitlines()
    announced = [line for line in lines if 'listening on' in line]
    assert len(announced) == 1, '\n'.join(lines)
    assert f'backend {ONNX_BACKEND} ' in announced[0] and 'input 64x32' in announced[0]
    assert run.returncode == 0, '\n'.join(lines)


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_a_missing_backend_package_stops_start_up_with_one_line(tiny_weights: Path,
                                                                 backend: str) -> None:
    # `sys.modules[name] = None` makes `import name` fail as if it were not installed.
    hide = f'import sys; sys.modules[{backend!r}] = None; ' + START
    run = _node_process(hide, ['-p', f'weights:={tiny_weights}', '-p', 'device:=cpu',
                               '-p', f'backend:={backend}'])
    output, _ = run.communicate(timeout=TIMEOUT)
    fatal = [line for line in output.splitlines() if 'FATAL' in line]
    assert run.returncode == 1, output
    assert len(fatal) == 1 and 'cannot start: ' in fatal[0], output
    assert f"needs the Python package '{backend}'" in fatal[0] and 'pip install' in fatal[0]
    assert 'Traceback' not in output
