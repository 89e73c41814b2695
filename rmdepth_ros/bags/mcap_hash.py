"""A rosbags bag writer whose MCAP channels carry the type hash that rosbag2 reads.

rosbag2's MCAP storage (Iron and later) writes two entries in each channel's metadata,
`offered_qos_profiles` and `topic_type_hash` (the RIHS01 type description hash), and reads the
hash back into the topic's `type_description_hash`. rosbags 0.11 writes the QoS entry only and
has no option for the hash, so `HashingWriter` replaces its MCAP storage's `add_connection` with
one that writes both (built on rosbags' MCAP record helpers; rosbags is pinned in
requirements.txt). sqlite3 bags already store the hash in their own table.
"""

from __future__ import annotations

from io import BytesIO
from typing import cast

from rosbags.interfaces import Connection, ConnectionExtRosbag2
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.storage_mcap import Channel, McapWriter, write_channel, write_string

TYPE_HASH_KEY = 'topic_type_hash'


class _HashingMcapWriter(McapWriter):
    def add_connection(self, connection: Connection, offered_qos_profiles: str) -> None:
        metadata = BytesIO()
        for key, value in (('offered_qos_profiles', offered_qos_profiles),
                           (TYPE_HASH_KEY, connection.digest)):
            write_string(metadata, key)
            write_string(metadata, value)
        ext = cast(ConnectionExtRosbag2, connection.ext)
        self.channels.append(Channel(connection.id, connection.msgtype, connection.topic,
                                     ext.serialization_format, metadata.getvalue()))
        self.channel_stats[connection.id] = 0
        write_channel(self.chunk.bio, self.channels[-1], self.schemas)


class HashingWriter(Writer):
    """rosbags' rosbag2 Writer; MCAP channels also get `topic_type_hash` (module doc)."""

    STORAGE_PLUGINS = {**Writer.STORAGE_PLUGINS, StoragePlugin.MCAP: _HashingMcapWriter}
