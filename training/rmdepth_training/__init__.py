"""Training package of rmdepth_ros: losses, data pipelines, the training loop, evaluation, export.

The networks come from `rmdepth_ros.model`; nothing here redefines them.
"""

__version__ = '0.1.0'
