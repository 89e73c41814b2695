"""Choose the topics of a ROS 2 bag that BagSequence reads, with errors that list the choices.

Rules (`None` = find it, `''` = do not read it, a name = that topic, which must exist):

- image: the one sensor_msgs/Image or CompressedImage topic that is not ground truth; several
  candidates are an error listing them.
- camera_info: the one CameraInfo topic, or among several the one in the image's namespace
  (`/cam/image_raw` or `/cam/image_raw/compressed` -> `/cam/camera_info`).
- depth / flow / motion_mask / odom: the `/ground_truth/*` names of `bags.layout` when present.
"""

from __future__ import annotations

from dataclasses import dataclass

from rosbags.interfaces import Connection

from rmdepth_ros.bags.layout import (
    CAMERA_INFO_TOPIC,
    CAMERA_INFO_TYPE,
    COMPRESSED_TYPE,
    DEPTH_TOPIC,
    FLOW_TOPIC,
    IMAGE_TYPE,
    MASK_TOPIC,
    ODOM_TOPIC,
    ODOM_TYPE,
)
from rmdepth_ros.datasets.sequence import DataError

_GROUND_TRUTH = {  # kind -> (default topic, accepted message type)
    'depth': (DEPTH_TOPIC, IMAGE_TYPE),
    'flow': (FLOW_TOPIC, IMAGE_TYPE),
    'mask': (MASK_TOPIC, IMAGE_TYPE),
    'odom': (ODOM_TOPIC, ODOM_TYPE),
}


@dataclass
class BagTopics:
    """Resolved topic names; None where the bag has no such data (or it was switched off)."""

    image: str
    image_type: str
    camera_info: str | None
    depth: str | None
    flow: str | None
    mask: str | None
    odom: str | None


def _listing(names: list[str]) -> str:
    return ', '.join(sorted(names)) if names else '(none)'


def _of_type(types: dict[str, str], *msgtypes: str) -> list[str]:
    return sorted(topic for topic, msgtype in types.items() if msgtype in msgtypes)


def _named(bag: str, types: dict[str, str], topic: str, kind: str, *msgtypes: str) -> str:
    """Check that an explicitly named topic exists and has an accepted type."""
    if topic not in types:
        raise DataError(f"{bag}: topic '{topic}' not in bag; {kind} topics: "
                        f'{_listing(_of_type(types, *msgtypes))}')
    if types[topic] not in msgtypes:
        raise DataError(f"{bag}: topic '{topic}' is {types[topic]}, expected "
                        f"{' or '.join(msgtypes)} for {kind}")
    return topic


def _namespace(image_topic: str) -> str:
    base = image_topic.removesuffix('/compressed')
    return base.rsplit('/', 1)[0]


def resolve_topics(bag: str, connections: list[Connection], image: str | None = None,
                   camera_info: str | None = None, **ground_truth: str | None) -> BagTopics:
    """Pick the topics to read; `ground_truth` holds depth, flow, mask and odom choices.

    Raises DataError naming the bag and the candidates for a missing or ambiguous topic.
    """
    types = {conn.topic: conn.msgtype for conn in connections}
    chosen: dict[str, str | None] = {}
    for kind, (default, msgtype) in _GROUND_TRUTH.items():
        name = ground_truth.get(kind)
        if name is None:
            chosen[kind] = default if types.get(default) == msgtype else None
        else:
            chosen[kind] = _named(bag, types, name, kind, msgtype) if name else None

    image_types = (IMAGE_TYPE, COMPRESSED_TYPE)
    if image:
        image = _named(bag, types, image, 'image', *image_types)
    else:
        reserved = {topic for topic, _ in _GROUND_TRUTH.values()} | set(chosen.values())
        candidates = [t for t in _of_type(types, *image_types) if t not in reserved]
        if not candidates:
            raise DataError(f'{bag}: no image topic (sensor_msgs/Image or CompressedImage); '
                            f'topics in bag: {_listing(list(types))}')
        if len(candidates) > 1:
            raise DataError(f'{bag}: several image topics: {_listing(candidates)}; choose one '
                            'with image_topic')
        image = candidates[0]

    if camera_info is None:
        infos = _of_type(types, CAMERA_INFO_TYPE)
        preferred = [t for t in infos if t == _namespace(image) + '/camera_info']
        if len(infos) == 1:
            camera_info = infos[0]
        elif preferred:
            camera_info = preferred[0]
        elif CAMERA_INFO_TOPIC in infos:
            camera_info = CAMERA_INFO_TOPIC
        elif infos:
            raise DataError(f'{bag}: several camera_info topics: {_listing(infos)}; choose one '
                            'with camera_info_topic')
    elif camera_info:
        camera_info = _named(bag, types, camera_info, 'camera_info', CAMERA_INFO_TYPE)
    return BagTopics(image=image, image_type=types[image], camera_info=camera_info or None,
                     depth=chosen['depth'], flow=chosen['flow'], mask=chosen['mask'],
                     odom=chosen['odom'])
