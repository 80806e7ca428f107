"""What the browser tests look at besides the page: axe-core's verdict, and every response
the page fetched."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, Response

_axe = Axe()


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    results = await _axe.run(page)
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@dataclass
class Responses:
    """Every response a page receives, bodies included (a server-sent event stream is
    checked through what it put on the page)."""

    page: Page
    bodies: list[tuple[str, str]] = field(default_factory=list)
    _reading: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("response", self._seen)

    def _seen(self, response: Response) -> None:
        if "text/event-stream" in response.headers.get("content-type", ""):
            return
        self._reading.append(asyncio.ensure_future(self._read(response)))

    async def _read(self, response: Response) -> None:
        self.bodies.append((response.url, await response.text()))

    async def containing(self, *needles: str) -> list[str]:
        """``url: needle`` for each response (and the page as it is now) holding one."""
        await asyncio.gather(*self._reading)
        everything = [*self.bodies, ("(the page now)", await self.page.content())]
        return [
            f"{url}: {needle}"
            for url, body in everything
            for needle in needles
            if needle.casefold() in body.casefold()
        ]
