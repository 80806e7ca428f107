"""``touchlog status``'s table and lag arithmetic (no services)."""

from __future__ import annotations

from consumers.status import PartitionStatus, Stage, _LogPosition, _status
from touchlog.cli_status import table

STAGE = Stage("timeline", "timeline_v1", "touchlog.resolved")


def test_lag_in_time_is_the_age_of_the_oldest_unprocessed_event() -> None:
    behind = _status(STAGE, 0, 10, _LogPosition(15, 1_000_000), None, 1_030.5)
    assert (behind.lag_events, behind.lag_seconds) == (5, 30.5)
    caught_up = _status(STAGE, 1, 15, _LogPosition(15, None), "boom", 1_030.5)
    assert (caught_up.lag_events, caught_up.lag_seconds, caught_up.last_error) == (0, 0.0, "boom")
    never_read = _status(STAGE, 2, None, _LogPosition(3, 1_000_000), None, 1_001.0)
    assert (never_read.stored_offset, never_read.lag_events) == (None, 3)
    unknown = _status(STAGE, 3, 7, _LogPosition(None, None), None, 1_001.0)
    assert (unknown.lag_events, unknown.lag_seconds) == (None, None)


def test_the_table_has_one_line_per_partition_and_marks_the_unknown() -> None:
    rows = [
        PartitionStatus("timeline", "timeline_v1", "t", 0, 10, 15, 5, 30.46, "view rejected it"),
        PartitionStatus("profile", "profile_facts", "t", 1, None, None, None, None, None),
    ]
    lines = table(rows).splitlines()
    assert len(lines) == 3
    assert lines[0].split()[:3] == ["stage", "view", "partition"]
    assert lines[1].split()[:7] == ["timeline", "timeline_v1", "0", "10", "15", "5", "30.5"]
    assert lines[1].endswith("view rejected it")
    assert lines[2].split() == ["profile", "profile_facts", "1", "-", "-", "-", "-"]
