"""Declaring rmdepth_node's parameters on an rclpy node, from the table in node_config.

`declare_parameters(node)` declares every parameter of `node_config.PARAMETERS` with its
descriptor (type, description, range, read-only) and a typed value, warns about parameters the
user set that the node does not declare, and returns the validated `NodeConfig`.
"""

from __future__ import annotations

from collections.abc import Iterable
import difflib
import re
from typing import Any

from rmdepth_ros.ros.node_config import PARAMETERS, SPECS, NodeConfig, ParamSpec


def descriptor(spec: ParamSpec) -> Any:
    """The rcl_interfaces ParameterDescriptor of one parameter (type, range, read-only)."""
    from rcl_interfaces.msg import (
        FloatingPointRange,
        IntegerRange,
        ParameterDescriptor,
        ParameterType,
    )

    kind = type(spec.default)
    if spec.array:
        type_ = ParameterType.PARAMETER_DOUBLE_ARRAY
    else:
        type_ = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
                 float: ParameterType.PARAMETER_DOUBLE,
                 str: ParameterType.PARAMETER_STRING}[kind]
    desc = ParameterDescriptor(name=spec.name, type=type_, description=spec.description,
                               read_only=spec.read_only)
    if spec.choices:
        desc.additional_constraints = f"one of: {', '.join(spec.choices)}"
    if spec.bounds is not None and kind is int:
        step = int(spec.bounds[2]) if len(spec.bounds) == 3 else 1
        desc.integer_range = [IntegerRange(from_value=int(spec.bounds[0]),
                                           to_value=int(spec.bounds[1]), step=step)]
    elif spec.bounds is not None:
        desc.floating_point_range = [FloatingPointRange(
            from_value=float(spec.bounds[0]), to_value=float(spec.bounds[1]), step=0.0)]
    return desc


def declare_parameters(node: Any) -> NodeConfig:
    """Declare every parameter on an rclpy node and return the validated configuration.

    Every parameter gets a typed value, the arrays too (an empty list when unset: rcl reads
    `[]` in a YAML file as "not set"), so that `ros2 param get/dump/list/describe` answer for
    all of them. Parameters set by the user (parameters file, -p) that are not declared are
    logged once each as a warning naming the closest declared one.

    Raises:
        ValueError: a value given on the command line or in a parameters file is out of range,
            of the wrong type, or fails validation (one line naming the parameter).
    """
    from rclpy.exceptions import ParameterException

    values = {}
    for spec in PARAMETERS:
        try:
            values[spec.name] = (_declare_array(node, spec) if spec.array else
                                 node.declare_parameter(spec.name, spec.default,
                                                        descriptor(spec)).value)
        except ParameterException as error:
            raise ValueError(f"parameter '{spec.name}': {_explain(spec, error)}") from None
    given = getattr(node, '_parameter_overrides', {})  # rclpy: what the user set, by name
    for line in unknown_overrides((n for n in given if not node.has_parameter(n)), SPECS):
        node.get_logger().warning(line)
    return NodeConfig.from_values(values)


def unknown_overrides(given: Iterable[str], declared: Iterable[str]) -> list[str]:
    """One warning per name in `given` (parameters a user set) that is not `declared`."""
    declared = sorted(declared)
    warnings = []
    for name in sorted(set(given) - set(declared)):
        close = difflib.get_close_matches(name, declared, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ''
        warnings.append(f"unknown parameter '{name}' (parameters file or -p) is ignored{hint}")
    return warnings


def _declare_array(node: Any, spec: ParamSpec) -> tuple[float, ...]:
    """Declare a double-array parameter with a value even when none is given.

    rclpy types a value by its contents, so an empty list cannot be declared as a double
    array directly: declare it typed (and, for a moment, writable), set the typed empty list,
    then apply the real (read-only) descriptor.
    """
    from rclpy.parameter import Parameter

    final = descriptor(spec)
    writable = descriptor(spec)
    writable.read_only = False
    value = node.declare_parameter(spec.name, Parameter.Type.DOUBLE_ARRAY, writable).value
    if value is None:
        value = []
        node.set_parameters([Parameter(spec.name, Parameter.Type.DOUBLE_ARRAY, value)])
    if final.read_only:
        node.set_descriptor(spec.name, final)
    return tuple(value)


def _explain(spec: ParamSpec, error: Exception) -> str:
    """One line for a value rclpy rejected at declaration (range, step or type)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    rejected = re.match(r'Invalid parameter value \((.*)\) for parameter', text)
    if rejected and spec.bounds is not None:
        step = f' in steps of {spec.bounds[2]}' if len(spec.bounds) == 3 else ''
        return (f'{rejected.group(1)} is outside [{spec.bounds[0]}, {spec.bounds[1]}]{step}')
    return text
