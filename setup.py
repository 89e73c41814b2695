"""ament_python / pip packaging for rmdepth_ros."""

from glob import glob
import os

from setuptools import find_packages, setup

PACKAGE = 'rmdepth_ros'

setup(
    name=PACKAGE,
    version='0.1.0',
    description='RM-Depth monocular depth, ego-motion, flow and motion masks for ROS 2',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=[PACKAGE, PACKAGE + '.*']),
    package_data={PACKAGE: ['weights/*.safetensors', 'cuda_defaults.json', 'synth/assets/*.jpg',
                           'synth/assets/index.csv', 'synth/assets/NOTICE']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        (os.path.join('share', PACKAGE), ['package.xml']),
        (os.path.join('share', PACKAGE, 'launch'), glob('launch/*.launch.py')),
        (os.path.join('share', PACKAGE, 'config'), glob('config/*.yaml') + glob('config/*.rviz')
         + glob('config/*.xml')),
    ],
    # Runtime dependencies come from package.xml (rosdep) on a ROS 2 install and from the pinned
    # requirements.txt in a venv. Listing pip names here would make the setuptools-generated
    # `ros2 run` scripts fail on systems where e.g. OpenCV comes from apt (python3-opencv).
    install_requires=['setuptools'],
    # Optional inference backends (rmdepth_ros.backends); the same pins as
    # requirements-backends.txt.
    extras_require={'backends': ['onnx==1.23.2', 'onnxruntime==1.32.0', 'openvino==2026.4.1']},
    zip_safe=True,
    # (no tests_require: setuptools dropped it; pytest is a test_depend in package.xml and
    # pinned in requirements.txt)
    entry_points={
        'console_scripts': [
            'rmdepth-weights = rmdepth_ros.model.weights:main',
            'rmdepth-synth = rmdepth_ros.synth.cli:main',
            'rmdepth_node = rmdepth_ros.ros.startup:main',
            'rmdepth-node = rmdepth_ros.ros.startup:main',
            'rmdepth-eval = rmdepth_ros.evaluation.cli:main',
            'rmdepth_eval = rmdepth_ros.evaluation.cli:main',
        ],
    },
)
