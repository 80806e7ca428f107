"""The figures of a ``benchmarks.pipeline`` run, as text and as docs/BENCHMARKS.md.

The generated part of the file sits between two markers; what is written around them
by hand (the notes, the design of what would close a gap) is kept."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.pipeline_limits import PeerResult
from benchmarks.pipeline_usage import Usage

BEGIN = "<!-- benchmarks.pipeline: generated from here -->"
END = "<!-- benchmarks.pipeline: generated up to here -->"

TARGET_E2E = 15_000
TARGET_E2E_PEER = 8.0
TARGET_TRIGGERS = 8_000

STAGE_NAMES = {
    "identity": "identity stage done",
    "timeline": "timeline done",
    "profile": "profile done",
    "triggers": "faust triggers worker done",
}


@dataclass
class Figures:
    events: int
    people: int
    event_bytes: float
    command: str
    publish: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # events/s, publish start → done
    limits: dict[str, float] = field(default_factory=dict)  # produce, consume, copy
    peer: PeerResult | None = None
    peer_events: int = 0
    usage: dict[str, Usage] = field(default_factory=dict)
    usage_s: float = 0.0

    @property
    def end_to_end(self) -> float:
        return min(self.stages["timeline"], self.stages["profile"])

    def rows(self) -> list[tuple[str, float]]:
        rows = [("SDK publish, the stages running", self.publish)]
        rows += [(STAGE_NAMES[s], self.stages[s]) for s in STAGE_NAMES]
        rows.insert(4, ("**timeline and profile complete (end to end)**", self.end_to_end))
        return rows

    def _ratios(self, rate: float) -> str:
        copy = rate / self.limits["copy"]
        peer = f"{rate / self.peer.rate:.1f}x" if self.peer else "-"
        return f"{copy:.0%} | {peer}"

    def targets(self) -> list[tuple[str, str, str]]:
        peer = self.peer.rate if self.peer else float("nan")
        e2e, trig = self.end_to_end, self.stages["triggers"]
        return [
            (
                f"end to end ≥ {TARGET_E2E:,} events/s",
                f"{e2e:,.0f}",
                _verdict(e2e >= TARGET_E2E, e2e / TARGET_E2E),
            ),
            (
                f"end to end ≥ {TARGET_E2E_PEER:g}x the naive peer",
                f"{e2e / peer:.1f}x",
                _verdict(e2e / peer >= TARGET_E2E_PEER, e2e / peer / TARGET_E2E_PEER),
            ),
            (
                f"faust triggers worker ≥ {TARGET_TRIGGERS:,} events/s",
                f"{trig:,.0f}",
                _verdict(trig >= TARGET_TRIGGERS, trig / TARGET_TRIGGERS),
            ),
        ]

    def text(self) -> str:
        lines = [f"{'what':<48} {'events/s':>10}"]
        lines += [f"{name.strip('*'):<48} {rate:>10,.0f}" for name, rate in self.rows()]
        for name, rate in self.limits.items():
            lines.append(f"{'limit: ' + name:<48} {rate:>10,.0f}")
        if self.peer:
            lines.append(f"{'peer: naive faust agent':<48} {self.peer.rate:>10,.0f}")
        lines += [f"target: {what}: {got} ({verdict})" for what, got, verdict in self.targets()]
        return "\n".join(lines)

    def markdown(self) -> str:
        peer = self.peer
        out = [
            "## The whole pipeline (`benchmarks.pipeline`)",
            "",
            f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores "
            f"({platform.python_implementation()} {platform.python_version()}), by",
            "",
            f"    {self.command}",
            "",
            f"`touchlog up` (no demo) on the embedded broker and this machine's PostgreSQL, "
            f"every stage running, the faust triggers worker included. After a warm-up, "
            f"{self.events:,} events (~{self.event_bytes:.0f} bytes of JSON each) about "
            f"{self.people:,} people — by customer id, email, phone, loyalty number, or two of "
            "them at once — were published with the SDK. A stage's rate is the events "
            "divided by the time from the first publish to the moment its stored offsets "
            "(the faust worker: its committed offsets) reached the end of its input.",
            "",
            "| what | events/s | of `COPY` | x naive peer |",
            "|---|---:|---:|---:|",
        ]
        out += [f"| {name} | {rate:,.0f} | {self._ratios(rate)} |" for name, rate in self.rows()]
        names = {
            "produce": "*limit:* raw aiokafka produce, acks=all",
            "consume": "*limit:* raw consume and JSON decode",
            "copy": "*limit:* PostgreSQL `COPY` of the timeline rows",
        }
        out += [f"| {names[k]} | {v:,.0f} | {self._ratios(v)} |" for k, v in self.limits.items()]
        if peer:
            out.append(
                f"| *peer:* naive faust agent, one `INSERT` per event "
                f"({self.peer_events:,} events) | {peer.rate:,.0f} | {self._ratios(peer.rate)} |"
            )
        out += ["", "### Targets (issue 17)", "", "| target | measured | |", "|---|---:|---|"]
        out += [f"| {what} | {got} | {verdict} |" for what, got, verdict in self.targets()]
        out += [
            "",
            f"### Processes, over the {self.usage_s:.0f} s of the measured phase",
            "",
            "| process | CPU (cores, average) | RSS first | RSS last | RSS max |",
            "|---|---:|---:|---:|---:|",
        ]
        for role, usage in sorted(self.usage.items(), key=lambda kv: -kv[1].cpu_s):
            out.append(
                f"| {role} | {usage.cpu_s / max(self.usage_s, 1e-9):.2f} | "
                f"{mb(usage.rss_first)} | {mb(usage.rss_last)} | {mb(usage.rss_max)} |"
            )
        if peer:
            out.append(
                f"| naive faust peer (its own phase) | {peer.cpu:.2f} | - | {mb(peer.rss)} | - |"
            )
        out += [
            "",
            "The machine is shared: figures of one run are compared with each other only.",
        ]
        return "\n".join(out)


def _verdict(met: bool, fraction: float) -> str:
    return "met" if met else f"**not met** ({fraction:.0%} of it)"


def mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"


def write_section(path: Path, begin: str, end: str, markdown: str) -> None:
    """Replace the part of ``path`` between ``begin`` and ``end`` (appended if missing; the
    file created if missing), keep the rest."""
    generated = f"{begin}\n{markdown}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + generated + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + generated + "\n"
    path.write_text(text)


def write_report(path: Path, figures: Figures) -> None:
    """Replace the generated part of ``path`` (created if missing), keep the rest."""
    write_section(path, BEGIN, END, figures.markdown())
