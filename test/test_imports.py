"""The package's imports run one way: no module imports, directly or through others, a module
that imports it back (deferred imports inside functions count too), and the layers of
STYLE.md hold: model/ knows nothing of ROS or OpenCV; the estimator and its helpers (the
top-level modules, model/, backends/) never import rclpy or rmdepth_ros.ros."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / 'rmdepth_ros'


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imported(path: Path) -> set[str]:
    """Every module name `path` imports, anywhere in the file (absolute imports only)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f'{node.module}.{alias.name}' for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Package module -> the package modules it imports."""
    paths = {module_name(path): path for path in PACKAGE.rglob('*.py')}
    return {name: {other for other in imported(path) if other in paths and other != name}
            for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                return path[path.index(other):] + [other]
            if other not in state and (cycle := visit(other)):
                return cycle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None


def test_find_cycle_finds_one() -> None:
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': set()}) is None


def test_no_import_cycles() -> None:
    graph = import_graph()
    # the graph sees deferred imports (startup imports the node inside main)
    assert 'rmdepth_ros.ros.node' in graph['rmdepth_ros.ros.startup']
    assert find_cycle(graph) is None, ' -> '.join(find_cycle(graph))


def test_layers() -> None:
    for path in PACKAGE.rglob('*.py'):
        name, names = module_name(path), imported(path)
        roots = {other.split('.')[0] for other in names}
        core = name.count('.') == 1 or name.startswith(('rmdepth_ros.model',
                                                         'rmdepth_ros.backends'))
        if core:  # the estimator and what it uses: numpy in, numpy out
            assert 'rclpy' not in roots, f'{name} imports rclpy'
            assert not any(other.startswith('rmdepth_ros.ros') for other in names), name
        if name.startswith('rmdepth_ros.model'):
            assert not roots & {'cv2', 'rclpy'}, f'{name} imports {roots & {"cv2", "rclpy"}}'
            assert not any(other.startswith('rmdepth_ros.') and not other.startswith(
                'rmdepth_ros.model') for other in names), f'{name} imports outside model/'
        if name.startswith(('rmdepth_ros.geometry', 'rmdepth_ros.motion')):
            # the geometry stage: numpy / OpenCV below the estimator, above nothing of ours
            # but itself (motion/ builds on geometry/)
            assert not roots & {'torch', 'rclpy'}, f'{name} imports {roots & {"torch", "rclpy"}}'
            assert not any(other.startswith('rmdepth_ros.') and not other.startswith(
                ('rmdepth_ros.geometry', 'rmdepth_ros.motion')) for other in names), \
                f'{name} imports outside geometry/ and motion/'


def test_entry_point_is_startup() -> None:
    setup = (PACKAGE.parent / 'setup.py').read_text()
    assert "'rmdepth_node = rmdepth_ros.ros.startup:main'" in setup
    assert 'rmdepth_ros.ros.node:' not in setup
