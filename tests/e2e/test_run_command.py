"""The README's run command on the embedded defaults: broker + PostgreSQL + runner + API + demo.

Runs ``touchlog up --demo`` exactly as ``make run`` does (after installing), with
no broker or database configured, and reads a demo customer's timeline over HTTP.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.waiting import eventually_sync
from touchlog.embedded import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Outside pytest's root-private tmp dir: embedded PostgreSQL runs unprivileged.
    path = Path(tempfile.mkdtemp(prefix="touchlog-e2e-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _read_until(
    process: subprocess.Popen[str], pattern: str, transcript: list[str]
) -> re.Match[str]:
    """Read the process's stdout line by line until ``pattern`` matches (or it exits)."""
    assert process.stdout is not None
    for line in process.stdout:
        transcript.append(line)
        if match := re.search(pattern, line):
            return match
    raise AssertionError(f"process ended before {pattern!r}:\n{''.join(transcript)}")


def _get(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310  # our own localhost API
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def _gateway_post(url: str, write_key: str | None, body: dict | None) -> dict:
    """POST ``body`` with the write key (HTTP Basic, no password); GET when no body."""
    headers = {"Content-Type": "application/json"}
    if write_key is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310  # localhost
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{url}: {exc.code} {exc.read().decode()}") from exc


def _timeline_once_known(url: str, token: str) -> dict:
    """The timeline, or an empty one while the customer is not known yet (404)."""
    try:
        return _get(url, token)
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise
        return {"items": []}


def test_up_with_demo_serves_timelines_and_stops_cleanly(data_dir: Path) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS")
    }
    env |= {
        "TOUCHLOG_DATA_DIR": str(data_dir),
        "TOUCHLOG_API_PORT": str(port),
        "TOUCHLOG_GATEWAY_PORT": str(gateway_port := free_port()),
        "TOUCHLOG_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "touchlog.cli", "up", "--demo", "--customers", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    transcript: list[str] = []
    try:
        _read_until(process, r"touchlog is up", transcript)
        gateway = _read_until(process, r"Gateway\s+(http://\S+)", transcript).group(1)
        write_key = _read_until(process, r"Write key\s+(\S+)", transcript).group(1)
        bootstrap = _read_until(process, r"Kafka bootstrap\s+(\S+)", transcript).group(1)
        database = _read_until(process, r"DATABASE_URL\s+(\S+)", transcript).group(1)
        # No tokens configured: the banner prints one per role, valid for this run.
        agent = _read_until(process, r"agent\s+Authorization: Bearer (\S+)", transcript).group(1)
        manager = _read_until(process, r"manager\s+Authorization: Bearer (\S+)", transcript)
        manager_token = manager.group(1)
        demo = _read_until(
            process, r"demo: published (\d+) events .* GET (/customers/\S+/timeline)", transcript
        )
        published, path = int(demo.group(1)), demo.group(2)
        assert published > 60
        assert re.fullmatch(r"127\.0\.0\.1:\d+", bootstrap)
        assert database.startswith("postgresql://")
        endpoints = json.loads((data_dir / "endpoints.json").read_text())
        assert endpoints["bootstrap_servers"] == bootstrap

        base = f"http://127.0.0.1:{port}"
        assert _get(base + "/healthz", agent) == {"status": "ok"}
        # The runner joins its consumer group (seconds on the embedded broker), then projects.
        body = eventually_sync(
            lambda: _timeline_once_known(base + path, manager_token),
            lambda b: bool(b["items"]),
            timeout=90,
            what="demo timeline",
        )
        times = [item["occurred_at"] for item in body["items"]]
        assert times == sorted(times, reverse=True)
        assert all(item["summary"] for item in body["items"])

        # The demo is still being projected (merges add to this timeline, the demo's split
        # takes from it): compare an agent's read with a manager's read on either side of it.
        def reads() -> tuple[list[str], list[dict], list[str]]:
            before = [i["message_id"] for i in _get(base + path, manager_token)["items"]]
            agent_items = _get(base + path, agent)["items"]
            after = [i["message_id"] for i in _get(base + path, manager_token)["items"]]
            return before, agent_items, after

        _, as_agent, _ = eventually_sync(
            reads,
            lambda r: r[0] == [i["message_id"] for i in r[1]] == r[2],
            timeout=60,
            what="agent and manager see the same items",
        )
        assert all(i["summary"] is None for i in as_agent), "service tier withheld from agents"
        # The profile stage runs too: the same customer's profile, every tier for a manager.
        customer = path.split("/")[2]
        profile = eventually_sync(
            lambda: _get(f"{base}/customers/{customer}/profile", manager_token),
            lambda p: p["service"]["customer_since"] is not None,
            timeout=30,
            what="demo profile",
        )
        # The showcase customer's records may have been merged meanwhile: the API redirects
        # a merged id to its survivor.
        if profile["customer_id"] != customer:
            survivor = _get(f"{base}/customers/{customer}", manager_token)["customer_id"]
            assert profile["customer_id"] == survivor
        assert profile["withheld"] == {}
        # The gateway runs too, and the printed write key publishes into the same pipeline.
        assert gateway == f"http://127.0.0.1:{gateway_port}"
        assert _gateway_post(gateway + "/healthz", None, None)["status"] == "ok"
        track = {
            "userId": profile["customer_id"],
            "event": "Order Completed",
            "messageId": "e2e-gateway-1",
            "properties": {
                "order_id": "O-9",
                "total": 27.5,
                "currency": "EUR",
                "products": [{"product_id": "SKU-1", "name": "Kettle", "price": 27.5}],
            },
        }
        assert _gateway_post(gateway + "/v1/track", write_key, track)["success"] is True
        eventually_sync(
            lambda: _get(f"{base}/customers/{profile['customer_id']}/timeline", manager_token),
            lambda t: "e2e-gateway-1" in {i["message_id"] for i in t["items"]},
            timeout=60,
            what="the gateway's event in the timeline",
        )
        # The faust triggers worker runs too: the demo's unhappy surveys, SLAs, offers.
        triggers = eventually_sync(
            lambda: _get(f"{base}/triggers?limit=200", manager_token),
            lambda t: bool(t["triggers"]),
            timeout=90,
            what="demo triggers",
        )
        assert {t["kind"] for t in triggers["triggers"]} <= {"marketing", "service"}
        assert all(t["reason"] and t["evidence"] for t in triggers["triggers"])
    finally:
        process.send_signal(signal.SIGINT)
        try:
            rest, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            rest, _ = process.communicate()
        transcript.append(rest or "")
    assert process.returncode == 0, "".join(transcript)
    assert not (data_dir / "endpoints.json").exists(), "endpoints file removed on stop"
