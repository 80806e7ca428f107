"""The partition of a keyed record: Kafka's default partitioner, memoised per key.

A subject's events share a partition whoever sends them: the SDK, the gateway, the
resolver and any other Kafka client (Java's, librdkafka's ``murmur2_random``) all take
murmur2 of the record key. aiokafka's murmur2 is pure Python: about 3 µs for a short key
and 8 µs for a subject's ref (32 characters), once per record sent — a quarter of the
SDK's own cost per event. A producer sends the same subjects again and again, so each
key's partition is remembered.
"""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner


class SubjectPartitioner:
    """Kafka's default partitioner — murmur2 of the key, as the SDK and every Kafka client
    use, so that a subject's events share a partition whoever sends them — memoised: a
    channel sends the same customers again and again, and aiokafka's murmur2 is pure
    Python (~9 µs a key)."""

    def __init__(self, max_keys: int = 200_000) -> None:
        self._default = DefaultPartitioner()
        self._max_keys = max_keys
        self._known: dict[tuple[bytes, int], int] = {}

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return int(self._default(key, all_partitions, available))
        known = (key, len(all_partitions))
        partition = self._known.get(known)
        if partition is None:
            if len(self._known) >= self._max_keys:
                self._known.clear()
            partition = self._known[known] = int(self._default(key, all_partitions, available))
        return partition
