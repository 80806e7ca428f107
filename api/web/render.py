"""Pages and fragments rendered on the server (Jinja2, autoescaped), and the filters they
share: channel icons, times the browser shows in the rep's own time zone, payload values."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.web.session import COOKIE, csrf_token

TEMPLATES = Path(__file__).parent / "templates"

CHANNEL_ICONS = {
    "phone": "☎",
    "email": "✉",
    "web": "🌐",
    "store": "🏬",
    "sms": "💬",
    "mail": "📮",
    "kiosk": "🖥",
    "chat": "💭",
    "social": "👥",
    "app": "📱",
}


def _iso(moment: datetime | str | None) -> str:
    if moment is None:
        return ""
    return moment.isoformat() if isinstance(moment, datetime) else str(moment)


def _value(value: Any) -> str:
    """A payload or profile value as one line a rep reads (not JSON)."""
    if value is None or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return "; ".join(_value(item) for item in value)
    if isinstance(value, dict):
        return _mapping(value)
    return str(value)


def _mapping(value: dict[str, Any]) -> str:
    for key in ("address", "number"):  # an email, a phone
        if isinstance(value.get(key), str):
            use = value.get("use")
            return f"{value[key]} ({use})" if use else str(value[key])
    if "given_name" in value or "family_name" in value:
        return _full_name(value)
    shown = [(k, v) for k, v in value.items() if v not in (None, [], {}, "")]
    if all(isinstance(v, str) for _, v in shown) and {"line1", "postcode"} & set(value):
        return ", ".join(str(v) for k, v in shown if k not in ("use", "primary"))
    return ", ".join(f"{k.replace('_', ' ')}: {_value(v)}" for k, v in shown)


def _full_name(name: Any) -> str:
    if isinstance(name, dict):
        parts = (name.get(k) for k in ("given_name", "middle_names", "family_name", "suffix"))
        return " ".join(str(p) for p in parts if p)
    return str(name) if name else ""


_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters |= {"iso": _iso, "value": _value, "full_name": _full_name}
_environment.globals |= {"channel_icons": CHANNEL_ICONS}


def html(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page or a fragment; every page knows who is signed in and its CSRF token."""
    token = request.cookies.get(COOKIE)
    body = _environment.get_template(template).render(
        request=request, csrf=csrf_token(token) if token else "", **context
    )
    return HTMLResponse(body, status_code=status_code)


def fragment(template: str, **context: Any) -> str:
    """A fragment as text (pushed over server-sent events)."""
    return _environment.get_template(template).render(**context)
