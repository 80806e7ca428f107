"""The producers' partitioner: Kafka's default partition for every key, remembered."""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner

from producers.partitioning import SubjectPartitioner

# Java's Utils.murmur2 of these keys, from Kafka's own UtilsTest.testMurmur2.
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize("partitions", [1, 6, 12, 50])
def test_partition_is_javas_for_its_test_keys(partitions: int) -> None:
    all_partitions = list(range(partitions))
    partitioner = SubjectPartitioner()
    for key, java_hash in JAVA_MURMUR2.items():
        expected = (java_hash & 0x7FFFFFFF) % partitions  # Utils.toPositive(murmur2) % n
        assert partitioner(key, all_partitions, all_partitions) == expected
        assert partitioner(key, all_partitions, all_partitions) == expected  # remembered


def test_same_partition_as_the_default_partitioner_across_partition_counts() -> None:
    rng = random.Random(7)
    keys = [rng.randbytes(rng.randrange(1, 60)) for _ in range(2_000)]
    partitioner = SubjectPartitioner(max_keys=500)  # forgets along the way
    default = DefaultPartitioner()
    for count in (3, 6, 7):
        all_partitions = list(range(count))
        for key in keys + keys:
            assert partitioner(key, all_partitions, []) == default(key, all_partitions, [])


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    partitioner = SubjectPartitioner()
    picks = {partitioner(None, [0, 1, 2, 3], [1, 3]) for _ in range(200)}
    assert picks <= {1, 3}
    assert picks == {1, 3}  # random, not fixed: 2^-199 to fail by chance
