"""rmdepth_node as a process: parameter services, parameters files, unknown keys, signals.

The node runs as a real `rmdepth_node` process (localhost DDS profile and test domain from
conftest.py); this process asks its parameter services like `ros2 param` does.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time

import pytest

from rmdepth_ros.ros.node_config import SPECS
from rmdepth_ros.ros.parameter_declaration import unknown_overrides
from rmdepth_ros.ros.parent_watch import ParentWatch, parent_gone
from rmdepth_ros.ros.startup import (
    check_params_files,
    params_files,
    rcl_error_line,
    wants_help,
)

pytestmark = pytest.mark.ros

ROOT = Path(__file__).resolve().parent.parent
YAML = ROOT / 'config' / 'rmdepth.yaml'
NAMESPACE = 'startup_probe'
TIMEOUT = 120.0  # the node imports torch and loads weights: slow on a busy machine


def node_command() -> list[str]:
    script = Path(sys.executable).parent / 'rmdepth_node'
    return [str(script)] if script.exists() else [sys.executable, '-m', 'rmdepth_ros.ros.startup']


class NodeProcess:
    """A running rmdepth_node whose output (stdout and stderr) is collected line by line.

    parent: a command that starts the node (given as its arguments) as its own child.
    """

    def __init__(self, args: list[str], parent: list[str] | None = None) -> None:
        self.process = subprocess.Popen((parent or []) + node_command() + args,
                                        env=dict(os.environ), text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip('\n'))

    def wait_line(self, text: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None, '\n'.join(self.lines)
            assert time.monotonic() < deadline, f'no line {text!r}: ' + '\n'.join(self.lines)
            time.sleep(0.05)

    def finish(self, timeout: float = 60.0) -> tuple[int, str]:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5.0)
        return code, '\n'.join(self.lines)


@pytest.fixture(scope='module')
def node(tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory):
    typo = tmp_path_factory.mktemp('params') / 'typo.yaml'
    typo.write_text('/**/rmdepth_node:\n  ros__parameters:\n    devcie: cpu\n'
                    '    points_strid: 3\n    zzz_nothing_like_it: 1\n')
    running = NodeProcess(['--ros-args', '-r', f'__ns:=/{NAMESPACE}', '--params-file', str(YAML),
                           '--params-file', str(typo), '-p', f'weights:={tiny_weights}',
                           '-p', 'device:=cpu'])
    running.wait_line('listening on')
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.finish()


def call(executor, client_node, service_type, name: str, request):
    """Call a service of the node from a helper node; waits for the answer."""
    client = client_node.create_client(service_type, f'/{NAMESPACE}/rmdepth_node/{name}')
    assert client.wait_for_service(timeout_sec=TIMEOUT), name
    future = client.call_async(request)
    executor.spin_until_future_complete(future, timeout_sec=TIMEOUT)
    assert future.done(), f'{name}: no answer'
    return future.result()


def test_parameter_services_answer_for_every_parameter(node: NodeProcess) -> None:
    """What `ros2 param list / get / dump / describe` ask, from a second process."""
    from rcl_interfaces.msg import ParameterType
    from rcl_interfaces.srv import DescribeParameters, GetParameters, ListParameters
    import rclpy
    import rclpy.executors

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        client_node = rclpy.create_node('param_client', context=context)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(client_node)
        names = call(executor, client_node, ListParameters, 'list_parameters',
                     ListParameters.Request()).result.names
        assert set(SPECS) <= set(names)
        values = call(executor, client_node, GetParameters, 'get_parameters',
                      GetParameters.Request(names=list(names))).values
        assert len(values) == len(names)  # one unset name would empty the whole answer
        by_name = dict(zip(names, values, strict=True))
        assert all(v.type != ParameterType.PARAMETER_NOT_SET for v in values)
        for name in ('base_to_camera', 'fallback_intrinsics'):
            assert by_name[name].type == ParameterType.PARAMETER_DOUBLE_ARRAY
            assert list(by_name[name].double_array_value) == []
        assert by_name['device'].string_value == 'cpu'
        assert by_name['points_stride'].integer_value == 2  # the typo 'points_strid' ignored
        descriptors = call(executor, client_node, DescribeParameters, 'describe_parameters',
                           DescribeParameters.Request(names=list(names))).descriptors
        described = {d.name: d for d in descriptors}
        assert set(described) == set(names)
        for name in ('base_to_camera', 'fallback_intrinsics'):
            assert described[name].type == ParameterType.PARAMETER_DOUBLE_ARRAY
            assert described[name].read_only and described[name].description
        executor.shutdown()
        client_node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_unknown_yaml_keys_are_warned_once_each(node: NodeProcess) -> None:
    warnings = [line for line in node.lines if 'unknown parameter' in line]
    assert len(warnings) == 3, warnings
    text = '\n'.join(warnings)
    assert "'devcie'" in text and "did you mean 'device'?" in text
    assert "'points_strid'" in text and "did you mean 'points_stride'?" in text
    nothing = [line for line in warnings if 'zzz_nothing_like_it' in line]
    assert len(nothing) == 1 and 'did you mean' not in nothing[0]
    assert all('WARN' in line for line in warnings)


def test_two_sigints_end_the_node_cleanly(node: NodeProcess) -> None:
    node.process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    node.process.send_signal(signal.SIGINT)
    code, output = node.finish()
    assert code == 0, output
    assert 'Traceback' not in output and 'KeyboardInterrupt' not in output, output


@pytest.mark.parametrize('stop', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_signals_during_start_up_end_the_node_cleanly(tiny_weights: Path, stop: int) -> None:
    running = NodeProcess(['--ros-args', '-p', f'weights:={tiny_weights}', '-r',
                           '__ns:=/early_interrupt'])
    time.sleep(1.0)  # still importing (torch takes seconds)
    for _ in range(2):
        running.process.send_signal(stop)
        time.sleep(0.05)
    code, output = running.finish(timeout=TIMEOUT)
    assert code == 0, output
    assert 'Traceback' not in output and 'KeyboardInterrupt' not in output, output


#: A stand-in for `ros2 launch`: starts the command it is given as its child, says its pid, waits.
LAUNCHER = ('import subprocess, sys, time; child = subprocess.Popen(sys.argv[1:]); '
            "print(f'child pid {child.pid}', flush=True); time.sleep(600)")
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='needs Linux prctl')
def test_node_ends_when_its_parent_dies(tiny_weights: Path) -> None:
    """SIGTERM kills the launcher at once (as it does `ros2 launch`); the orphaned node notices
    and ends cleanly. This process becomes the sub-reaper, so the orphan is its child and its
    exit status can be read."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip('cannot become a child sub-reaper')
    try:
        launcher = NodeProcess(['--ros-args', '-r', '__ns:=/orphan', '-p',
                                f'weights:={tiny_weights}', '-p', 'device:=cpu'],
                               parent=[sys.executable, '-c', LAUNCHER])
        launcher.wait_line('listening on')
        (line,) = [line for line in launcher.lines if line.startswith('child pid ')]
        node_pid = int(line.split()[-1])
        launcher.process.send_signal(signal.SIGTERM)
        assert launcher.process.wait(timeout=10.0) == -signal.SIGTERM
        deadline = time.monotonic() + 30.0
        while (done := os.waitpid(node_pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                os.kill(node_pid, signal.SIGKILL)
                os.waitpid(node_pid, 0)
                pytest.fail('the orphaned node kept running:\n' + '\n'.join(launcher.lines))
            time.sleep(0.1)
        launcher._reader.join(timeout=5.0)
        output = '\n'.join(launcher.lines)
        assert os.waitstatus_to_exitcode(done[1]) == 0, output
        assert 'ended: shutting down' in output and 'Traceback' not in output, output
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def test_help_prints_usage_and_exits() -> None:
    for flag in ('--help', '-h'):
        run = subprocess.run(node_command() + [flag], env=dict(os.environ), text=True,
                             capture_output=True, timeout=TIMEOUT)
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.startswith('usage: rmdepth_node'), run.stdout
        for expected in ('camera_info', 'sensor_msgs/PointCloud2', 'nav_msgs/Odometry',
                         '/tf_static', '~/reset', '~/save_weights', 'rmdepth.yaml',
                         'ros2 param describe'):
            assert expected in run.stdout, run.stdout
        assert 'listening on' not in run.stdout + run.stderr


def test_bad_params_files_are_one_line(tmp_path: Path) -> None:
    broken = tmp_path / 'broken.yaml'
    broken.write_text('/**:\n  ros__parameters:\n    device: [cpu\n')
    listed = tmp_path / 'listed.yaml'
    listed.write_text('- device: cpu\n')
    mixed = tmp_path / 'mixed.yaml'  # valid YAML that rcl's parser refuses
    mixed.write_text('/**:\n  ros__parameters:\n    base_to_camera: [1.0, abc]\n')
    cases = [
        (tmp_path / 'missing.yaml', 'not found'),
        (broken, "not valid YAML: expected ',' or ']'"),
        (listed, 'expected a mapping of node names'),
        (mixed, "Couldn't parse params file"),
    ]
    runs = [subprocess.Popen(node_command() + ['--ros-args', '--params-file', str(path)],
                             env=dict(os.environ), text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT) for path, _ in cases]
    for run, (path, expected) in zip(runs, cases, strict=True):
        output, _ = run.communicate(timeout=TIMEOUT)
        fatal = [line for line in output.splitlines() if 'FATAL' in line]
        assert run.returncode == 1, output
        assert len(fatal) == 1 and str(path) in fatal[0] and expected in fatal[0], output
        assert 'Traceback' not in output and '.c:' not in fatal[0], output
        if path != mixed:  # found before rcl reads it: the FATAL line is all
            assert len(output.strip().splitlines()) == 1, output


# -- the plain functions ------------------------------------------------------------------------

def test_params_files_are_found_in_ros_arguments_only() -> None:
    args = ['prog', '--params-file', 'not_ros.yaml', '--ros-args', '--params-file', 'a.yaml',
            '-p', 'x:=1', '--', '--params-file', 'b.yaml', '--ros-args', '--params-file',
            'c.yaml']
    assert params_files(args) == ['a.yaml', 'c.yaml']
    check_params_files(['prog', '--params-file', '/no/such/file.yaml'])  # not a ROS argument


def test_rcl_error_line_drops_source_locations() -> None:
    error = RuntimeError("failed to initialize rcl: Couldn't parse params file: '--params-file "
                         "x.yaml'. Error: Error parsing a event near line 3, at /project/src/"
                         'parse.c:776, at /project/src/rcl/arguments.c:415')
    assert rcl_error_line(error) == ("failed to initialize rcl: Couldn't parse params file: "
                                     "'--params-file x.yaml'. Error: Error parsing a event "
                                     'near line 3')


def test_unknown_overrides() -> None:
    assert unknown_overrides(['device', 'weights'], SPECS) == []
    (line,) = unknown_overrides(['max_frame_gpa'], SPECS)
    assert "'max_frame_gpa'" in line and "did you mean 'max_frame_gap'?" in line


def test_wants_help_reads_the_program_arguments_only() -> None:
    assert wants_help(['prog', '--help']) and wants_help(['prog', '--ros-args', '--', '-h'])
    assert not wants_help(['prog']) and not wants_help(['-h'])  # (-h as the program name)
    assert not wants_help(['prog', '--ros-args', '-p', 'x:=1', '--help'])


def test_parent_watch_calls_back_once_when_the_parent_changes() -> None:
    assert parent_gone(100, 1) and parent_gone(100, 7)  # to init, or to a sub-reaper
    assert not parent_gone(100, 100) and not parent_gone(1, 1) and not parent_gone(1, 5)
    parents = iter([100, 100, 100, 1])
    gone = []
    watch = ParentWatch(gone.append, period=0.01, getppid=lambda: next(parents, 1)).start()
    watch._thread.join(timeout=5.0)
    assert gone == [100]
    unknown = ParentWatch(gone.append, period=0.01, getppid=lambda: 1).start()
    assert not unknown._thread.is_alive()  # started by init: nothing to watch
