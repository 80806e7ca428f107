"""What the screen's forms and links send, parsed and bounded as the API's parameters are
(``api.parameters``): text PostgreSQL can store, of bounded length."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from fastapi import Request

from api.errors import Unprocessable
from api.reads import Disclosure
from api.web.screen import TimelineFilter
from events import EVENT_TYPES, Channel, Tier

MAX_BODY = 16_384
MAX_TEXT = 500
_CHANNELS = frozenset(c.value for c in Channel)


def _clean(name: str, value: str, location: str) -> str:
    if "\x00" in value or len(value) > MAX_TEXT:
        raise Unprocessable(name, f"at most {MAX_TEXT} characters, no NUL", location)
    return value.strip()


async def form(request: Request) -> dict[str, str]:
    """A urlencoded form body (the screen sends nothing else)."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Unprocessable(None, "form too large", "body")
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: _clean(name, value, "body") for name, value in pairs}


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@dataclass(frozen=True, slots=True)
class TimelineView:
    """A timeline as the page shows it: filters, and the tier revealed (with why)."""

    chosen: TimelineFilter
    ask: Disclosure

    @classmethod
    def of(cls, request: Request) -> TimelineView:
        params = request.query_params
        channels = tuple(c for c in params.getlist("channel") if c)
        types = tuple(t for t in params.getlist("type") if t)
        units = tuple(_clean("bu", b, "query") for b in params.getlist("bu") if b.strip())
        if bad := [c for c in channels if c not in _CHANNELS]:
            raise Unprocessable("channel", f"unknown channel(s): {', '.join(bad)}")
        if bad := [t for t in types if t not in EVENT_TYPES]:
            raise Unprocessable("type", f"unknown event type(s): {', '.join(bad)}")
        reveal = Tier.SERVICE if params.get("reveal") == Tier.SERVICE.value else None
        reason = _clean("reason", params.get("reason", ""), "query") or None
        return cls(TimelineFilter(channels, types, units), Disclosure(reveal, reason))

    def query(self, **extra: str) -> str:
        """The query string that asks for this view again (``extra`` added)."""
        pairs = [("channel", c) for c in self.chosen.channels]
        pairs += [("type", t) for t in self.chosen.types]
        pairs += [("bu", b) for b in self.chosen.business_units]
        if self.ask.reveal is not None:
            pairs += [("reveal", self.ask.reveal.value), ("reason", self.ask.reason or "")]
        pairs += list(extra.items())
        return urlencode(pairs)
