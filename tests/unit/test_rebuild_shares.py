"""How a rebuild by several processes splits the partitions (``touchlog/rebuild_workers.py``)."""

from __future__ import annotations

import pickle

import pytest

from consumers.versioned import VersionedCheckpoints
from touchlog import rebuild_workers
from touchlog.bootstrap import Endpoints
from touchlog.settings import Settings


def test_partitions_are_dealt_round_robin_per_topic() -> None:
    partitions = {"triggers": [0, 1, 2, 3, 4, 5], "suppressed": [0, 1]}
    assert rebuild_workers.shares(partitions, 3) == [
        {"triggers": [0, 3], "suppressed": [0]},
        {"triggers": [1, 4], "suppressed": [1]},
        {"triggers": [2, 5]},
    ]


def test_every_partition_is_in_exactly_one_share() -> None:
    partitions = {"resolved": list(range(7))}
    dealt = [p for share in rebuild_workers.shares(partitions, 3) for p in share["resolved"]]
    assert sorted(dealt) == list(range(7))


@pytest.mark.parametrize(
    ("view", "asked", "expected"),
    [
        ("timeline", 4, 4),
        ("timeline", 12, 6),  # no more than one per partition
        ("timeline", 1, 1),
        ("identity", 4, 1),  # the resolver reads every partition in one order
    ],
)
def test_how_many_processes_rebuild_a_view(view: str, asked: int, expected: int) -> None:
    partitions = {"topic": list(range(6))}
    assert rebuild_workers.worker_count(view, partitions, asked) == expected


def test_by_default_one_process_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert rebuild_workers.worker_count("profile", {"topic": list(range(6))}, None) == 2
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert rebuild_workers.worker_count("profile", {"topic": list(range(6))}, None) == 1


def test_a_job_travels_pickled_without_the_kafka_security_options() -> None:
    settings = Settings(topic_resolved="t")
    endpoints = Endpoints("broker:9092", "postgresql://db/x", True, False, False, {"x": object()})
    [job] = rebuild_workers.jobs(settings, endpoints, "timeline", 2, 1, {"t": [0]}, 1)
    travelled = pickle.loads(pickle.dumps(job))  # noqa: S301  (our own bytes)
    assert travelled.secured
    assert travelled.endpoints.kafka_security == {}
    assert (travelled.view, travelled.version, travelled.partitions) == ("timeline", 2, {"t": [0]})


def test_only_a_rebuild_may_hold_the_lock_for_a_store() -> None:
    with pytest.raises(ValueError, match="given version"):
        VersionedCheckpoints(None, "timeline", "dsn", lock_held_by_rebuild=True)  # type: ignore[arg-type]
