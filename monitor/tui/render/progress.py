"""Agent runs (AG-UI lifecycle events and percent updates): progress bars, tool calls, failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from monitor.client.events import Event
from monitor.tui.render.entries import Entry, Rendered, append_shown, first, short_json, shown

RUN_EVENTS = {"RUN_STARTED", "RUN_FINISHED", "RUN_ERROR"}
STEP_EVENTS = {"STEP_STARTED", "STEP_FINISHED"}
TOOL_EVENTS = {"TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "TOOL_CALL_RESULT"}
MAX_ACTIVE_RUNS = 8  # runs that never finish must not grow the live area without bound
MAX_STEPS = 20
BAR_WIDTH = 12
MAX_OPEN_CALLS = 64  # tool calls whose result never came are forgotten after this many


@dataclass
class Step:
    name: str
    percent: float = 0.0
    status: str = "running"  # running, done, failed
    message: str = ""


@dataclass
class Run:
    run_id: str
    steps: dict[str, Step] = field(default_factory=dict)
    tool: str = ""  # the tool call in flight, if any

    def step(self, name: str) -> Step:
        if name not in self.steps:
            if len(self.steps) >= MAX_STEPS:
                self.steps.pop(next(iter(self.steps)))
            self.steps[name] = Step(name)
        return self.steps[name]

    def current(self) -> Step | None:
        return next(reversed(self.steps.values()), None)


def percent_of(payload: dict[str, Any]) -> float | None:
    """A percentage from `percent` (0-100) or `progress` (0-1 or 0-100), when present."""
    value = first(payload, "percent", "progress", "pct")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if "percent" not in payload and "pct" not in payload and value <= 1:
        value *= 100
    return max(0.0, min(100.0, float(value)))


class ProgressRenderer:
    """Tracks active runs and their steps; lifecycle events become lines, percents move bars."""

    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}
        self.tool_names: dict[str, str] = {}  # open tool calls: id -> tool name
        self.tool_args: dict[str, str] = {}  # id -> arguments assembled from deltas

    def clear(self) -> None:
        self.runs.clear()
        self.tool_names.clear()
        self.tool_args.clear()

    def interrupt(self, why: str) -> list[Entry]:
        """Close every open run as interrupted (it can no longer finish here): one line each."""
        entries = []
        for run in self.runs.values():
            line = shown(f"⚠ run {run.run_id} interrupted", "bold yellow")
            if (step := run.current()) is not None and step.status == "running":
                append_shown(line, f" at {step.name} {step.percent:.0f}%", "yellow")
            append_shown(line, f": {why}", "yellow")
            entries.append(Entry(line, line.plain))
        self.clear()
        return entries

    def handle(self, event: Event, payload: Any, name: str) -> Rendered | None:
        if not isinstance(payload, dict):
            return None
        if name in RUN_EVENTS | STEP_EVENTS | TOOL_EVENTS:
            return self._lifecycle(name, payload)
        pct = percent_of(payload)
        if pct is None:
            return None
        run = self._run(payload)
        step = run.step(str(first(payload, "stepName", "step", "name", default="progress")))
        step.percent = pct
        step.message = str(first(payload, "message", "status", default=""))
        return Rendered(live_changed=True)

    def _run(self, payload: dict[str, Any]) -> Run:
        run_id = first(payload, "runId", "run_id")
        if run_id is None:  # step events without a run id belong to the newest run
            if self.runs:
                return next(reversed(self.runs.values()))
            run_id = "run"
        run_id = str(run_id)
        if run_id not in self.runs:
            if len(self.runs) >= MAX_ACTIVE_RUNS:
                self.runs.pop(next(iter(self.runs)))
            self.runs[run_id] = Run(run_id)
        return self.runs[run_id]

    def _lifecycle(self, name: str, payload: dict[str, Any]) -> Rendered:
        line = Text()
        run = self._run(payload)
        if name == "RUN_STARTED":
            append_shown(line, f"▶ run {run.run_id} started", "bold")
            thread = first(payload, "threadId", "thread_id")
            if thread:
                append_shown(line, f"  thread {thread}", "dim")
        elif name == "RUN_FINISHED":
            self.runs.pop(run.run_id, None)
            append_shown(line, f"✔ run {run.run_id} finished", "bold green")
            result = payload.get("result")
            if result is not None:
                line.append(f"  {short_json(result, 60)}", style="dim")
        elif name == "RUN_ERROR":
            self.runs.pop(run.run_id, None)
            message = first(payload, "message", "error", default="failed")
            append_shown(line, f"✘ run {run.run_id} failed: {message}", "bold red")
            code = payload.get("code")
            if code:
                append_shown(line, f" ({code})", "red")
        elif name == "STEP_STARTED":
            step = run.step(str(first(payload, "stepName", "step", default="step")))
            append_shown(line, f"  ▸ step {step.name}", "cyan")
        elif name == "STEP_FINISHED":
            step = run.step(str(first(payload, "stepName", "step", default="step")))
            failed = str(payload.get("status", "")).lower() in {"failed", "error"}
            step.status = "failed" if failed else "done"
            step.percent = step.percent if failed else 100.0
            append_shown(line, f"  {'✘' if failed else '✓'} step {step.name}",
                         "red" if failed else "green")
        else:
            return self._tool(name, run, payload)
        return Rendered([Entry(line, line.plain)], live_changed=True)

    def _tool(self, name: str, run: Run, payload: dict[str, Any]) -> Rendered:
        call_id = str(first(payload, "toolCallId", "tool_call_id", default=""))
        if name == "TOOL_CALL_ARGS":  # argument deltas, shown whole with the result
            self.tool_args[call_id] = self.tool_args.get(call_id, "") + str(
                payload.get("delta", ""))
            return Rendered()
        if name == "TOOL_CALL_END":  # the call is over; its result line says how it went
            run.tool = ""
            return Rendered(live_changed=True)
        line = Text()
        if name == "TOOL_CALL_START":
            tool = str(first(payload, "toolCallName", "toolName", "name", default="tool"))
            if len(self.tool_names) >= MAX_OPEN_CALLS:
                self.tool_names.pop(next(iter(self.tool_names)))
                self.tool_args.pop(next(iter(self.tool_args)), None)
            self.tool_names[call_id] = run.tool = tool
            append_shown(line, f"    ⚙ {tool}…", "blue")
            return Rendered([Entry(line, line.plain)], live_changed=True)
        tool = self.tool_names.pop(call_id, "tool")
        args = self.tool_args.pop(call_id, "")
        error = first(payload, "error")
        append_shown(line, f"    {'✘' if error else '✓'} {tool}", "red" if error else "blue")
        if args:
            line.append(f"({short_json(args, 50)})", style="dim")
        result = error or first(payload, "result", "content")
        if result is not None:
            line.append(f" → {short_json(result, 60)}", style="red" if error else "dim")
        return Rendered([Entry(line, line.plain)], live_changed=True)

    def live(self) -> list[RenderableType]:
        blocks: list[RenderableType] = []
        for run in self.runs.values():
            head = shown(f"▶ {run.run_id}", "bold")
            if run.tool:
                append_shown(head, f"  ⚙ {run.tool}…", "blue")
            grid = Table.grid(padding=(0, 1))
            grid.add_column(no_wrap=True, max_width=16, overflow="ellipsis")
            grid.add_column(width=BAR_WIDTH, no_wrap=True)
            grid.add_column(width=4, justify="right", no_wrap=True)
            grid.add_column(no_wrap=True, overflow="ellipsis")
            for step in run.steps.values():
                style = {"failed": "red", "done": "green"}.get(step.status, "yellow")
                bar = ProgressBar(total=100, completed=step.percent, width=BAR_WIDTH,
                                  complete_style=style, finished_style=style)
                grid.add_row(shown(f"  {step.name}", style), bar,
                             f"{step.percent:3.0f}%", shown(step.message, "dim"))
            blocks.append(Group(head, grid))
        return blocks
