"""Start-up and shutdown of rmdepth_node as a process: `main`, and what happens around it.

`main` (the `rmdepth_node` entry point) takes over SIGINT and SIGTERM before the slow imports
(torch, the node), so that Ctrl-C (or `kill`) at any moment, once or repeatedly, ends the
process cleanly with status 0; every start-up mistake is one FATAL line and status 1.

- `check_params_files(args)`: every `--params-file` of the ROS arguments exists and is YAML,
  checked before `rclpy.init` so that a mistake is one line naming the file and the YAML error
  (rcl's own message is a path into its C sources).
- `rcl_error_line(error)`: rcl's init error, cut to one readable line (the fallback).
- `quiet_interrupts()`: SIGINT / SIGTERM only ask rclpy to shut down: no KeyboardInterrupt, so
  a second Ctrl-C (or `timeout -s INT` after a first one) cannot break the clean-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
import re
import signal
import sys
import threading

import yaml


class StartupError(Exception):
    """A problem with how the node was started; the message is one line."""


def ros_arguments(args: Sequence[str]) -> list[str]:
    """The arguments inside `--ros-args ... [--]` sections (the rest belongs to the program)."""
    inside, found = False, []
    for arg in args:
        if arg == '--ros-args':
            inside = True
        elif arg == '--' and inside:
            inside = False
        elif inside:
            found.append(arg)
    return found


def params_files(args: Sequence[str]) -> list[str]:
    """The paths given with `--params-file PATH` in the ROS arguments, in order."""
    ros = ros_arguments(args)
    return [ros[i + 1] for i, arg in enumerate(ros[:-1]) if arg == '--params-file']


def check_params_files(args: Sequence[str]) -> None:
    """Raise StartupError (one line) if a `--params-file` is missing, unreadable or not YAML."""
    for name in params_files(args):
        path = Path(name)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise StartupError(f'parameters file {name}: not found') from None
        except (OSError, UnicodeDecodeError) as error:
            raise StartupError(f'parameters file {name}: cannot read it '
                               f'({error.__class__.__name__}: {error})') from None
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise StartupError(f'parameters file {name}: not valid YAML: '
                               f'{_yaml_problem(error)}') from None
        if not isinstance(document, dict):
            raise StartupError(f'parameters file {name}: expected a mapping of node names to '
                               f"'ros__parameters', got {type(document).__name__}")


def _yaml_problem(error: yaml.YAMLError) -> str:
    """'<problem> (line L, column C)' from a PyYAML error, on one line."""
    problem = getattr(error, 'problem', None) or str(error).splitlines()[0]
    mark = getattr(error, 'problem_mark', None)
    where = f' (line {mark.line + 1}, column {mark.column + 1})' if mark is not None else ''
    return f'{problem}{where}'


def rcl_error_line(error: Exception) -> str:
    """rcl's init error on one line, without the C source locations (', at /path/x.c:123')."""
    text = ' '.join(str(error).split())
    return re.sub(r',? at \S+\.c:\d+', '', text).strip()


_interrupted = threading.Event()
#: The signals that end the node (rclpy's handler shuts its context down on both).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def quiet_interrupts() -> None:
    """Make SIGINT / SIGTERM only note the request (`interrupted()`), never raise or kill.

    Call before `rclpy.init` (main thread only): rclpy's signal handler, installed by init,
    shuts the context down on every such signal (which ends `spin`) and then chains to this
    Python-level handler. Without it, each SIGINT also raises KeyboardInterrupt wherever the
    main thread is (e.g. inside the clean-up after the first one), and a second SIGTERM kills.
    """
    if threading.current_thread() is threading.main_thread():
        for stop in STOP_SIGNALS:
            signal.signal(stop, _note_interrupt)


def _note_interrupt(signum: int, frame: object) -> None:
    _interrupted.set()


def interrupted() -> bool:
    """Whether a SIGINT or SIGTERM arrived since `quiet_interrupts()`."""
    return _interrupted.is_set()


def ignore_interrupts() -> None:
    """Ignore SIGINT / SIGTERM from now on (main thread only): for the process's last moments.

    Python resets its own handlers to the default (die) when it finalises, and the DDS teardown
    after that takes a moment: a late signal would end the process with status -2 / -15. An
    ignored signal stays ignored.
    """
    if threading.current_thread() is threading.main_thread():
        for stop in STOP_SIGNALS:
            signal.signal(stop, signal.SIG_IGN)


def main(args: list[str] | None = None) -> int:
    """`ros2 run rmdepth_ros rmdepth_node [--ros-args ...]`; returns the exit status."""
    quiet_interrupts()
    try:
        return _run(args)
    finally:
        ignore_interrupts()  # until the process is gone (DDS teardown follows)


def _run(args: list[str] | None) -> int:
    import rclpy
    import rclpy.logging

    from rmdepth_ros.ros.node_config import NODE_NAME

    fatal = rclpy.logging.get_logger(NODE_NAME).fatal
    try:
        check_params_files(sys.argv if args is None else args)
        rclpy.init(args=args)
    except (StartupError, RuntimeError) as error:  # rcl's RCLError is a RuntimeError
        fatal(f'cannot start: {rcl_error_line(error)}')
        return 1
    from rclpy.executors import ExternalShutdownException

    from rmdepth_ros.model.weights import WeightsError
    from rmdepth_ros.ros.node import RMDepthNode

    node = None
    try:
        if interrupted():  # (during the imports, before rclpy's handler existed)
            return 0
        node = RMDepthNode()
        rclpy.spin(node)
    except (WeightsError, ValueError) as error:
        if node is not None:
            raise
        # one readable line, no traceback: these are configuration mistakes
        fatal(f'cannot start: {error}')
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            raise  # (else a SIGINT during start-up shut the context down under our feet)
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
