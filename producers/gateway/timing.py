"""When a touchpoint happened, as the gateway records it: Segment's clock-skew correction.

``occurred_at = received_at - (sent_at - timestamp)``: a device's clock may be wrong, but
the gap between recording and sending is measured on that same clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from events import FieldError, correct_clock_skew

FUTURE_TOLERANCE = timedelta(hours=1)


def parse_time(value: object, path: str) -> datetime | FieldError | None:
    """An aware datetime from an ISO 8601 string; None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        return FieldError(path, "must be an ISO 8601 date-time string", repr(value)[:80])
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return FieldError(path, "is not an ISO 8601 date-time", repr(value)[:80])
    if moment.tzinfo is None:
        return FieldError(
            path, "needs a UTC offset, e.g. 2026-03-01T10:15:00Z or +01:00", repr(value)[:80]
        )
    return moment


def corrected(
    timestamp: datetime, sent_at: datetime | None, received_at: datetime, path: str
) -> datetime | FieldError:
    """The skew-corrected time, or why it cannot be believed."""
    try:
        moment = correct_clock_skew(timestamp, sent_at, received_at)
    except OverflowError:
        return FieldError(path, "is too far from sentAt to correct the clock skew")
    if moment > received_at + FUTURE_TOLERANCE:
        hours = int(FUTURE_TOLERANCE.total_seconds() // 3600)
        return FieldError(
            path,
            f"is more than {hours} hour(s) after the gateway received the event; "
            "send sent_at (sentAt) so that the device's clock skew can be corrected",
            timestamp.isoformat(),
        )
    return moment
