"""A realistic otel-perf fleet for the report benchmark, written as OpenMetrics text.

50 projects x 20 models on two targets (``api-0``/``api-1`` of job ``media-api``), each
restarting a few times (counters reset to zero; a 10-minute scrape gap with ``up`` 0 while
down), 90 days at 5-minute resolution with the last 7 days at 1-minute resolution. Series
are born at their first increment after each process start, as ``prometheus_client``'s are.

The input is streamed in time slices aligned to the 2-hour TSDB block range (``promtool``
maps its input file, so it cannot read a pipe): each slice is written, turned into blocks
by ``promtool tsdb create-blocks-from openmetrics`` and deleted, so disk holds one slice of
text at a time. The generator also computes the exact totals the report must print.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np

from otel_perf import metrics as M

DAY: Final = 86400
JOB: Final = "media-api"
TARGETS: Final = ("api-0:9464", "api-1:9464")
PROJECTS: Final = tuple(f"p{i:02d}" for i in range(50))
#: (operation, model, provider): 20 models over the five generation types.
MODELS: Final = (
    *(("generate_image", m, p) for m, p in (
        ("flux", "black-forest-labs"), ("imagen", "gcp.gemini"), ("nano-banana", "gcp.gemini"),
        ("dall-e-3", "openai"), ("gpt-image-1", "openai"), ("sdxl", "stability"),
        ("ideogram-v2", "ideogram"), ("recraft-v3", "recraft"))),
    *(("generate_video", m, p) for m, p in (
        ("veo", "gcp.gemini"), ("sora", "openai"), ("runway-gen3", "runway"),
        ("kling-v1", "kling"))),
    *(("generate_speech", m, p) for m, p in (
        ("tts-1", "openai"), ("eleven-v2", "elevenlabs"), ("chirp-3", "gcp.gemini"))),
    *(("generate_music", m, p) for m, p in (
        ("suno-v4", "suno"), ("udio-v1", "udio"), ("lyria", "gcp.gemini"))),
    *(("generate_sound_effect", m, p) for m, p in (
        ("elevenlabs-sfx", "elevenlabs"), ("audiogen", "meta"))),
)  # fmt: skip
RENDERS: Final = ("render_still", "render_video", "render_batch", "export_timeline")
ERROR_TYPES: Final = {
    "generate_image": ("safety_block", "rate_limit", "timeout"),
    "generate_video": ("timeout", "server_error", "safety_block"),
}
DEFAULT_ERROR_TYPES: Final = ("rate_limit", "timeout", "server_error")
QUEUE_OPS: Final = ("generate_image", "generate_video", "generate_speech", "generate_music")
#: Restarts per target: (day into the 90, minutes down).
RESTARTS: Final = {TARGETS[0]: ((20.3, 10), (55.1, 10), (86.6, 10)),
                   TARGETS[1]: ((33.7, 10), (70.2, 10), (88.4, 10))}  # fmt: skip
#: One 2-hour block range per slice: promtool parses its whole input once per block range,
#: so longer slices cost a pass per 2 hours they span.
SLICE: Final = 2 * 3600


@dataclass
class SeriesData:
    """One series: its exposition name+labels, its per-sample increments, its target."""

    name: str
    labels: dict[str, str]
    target: str
    kind: str  # counter | gauge
    increments: np.ndarray  # per sample time
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class Fleet:
    """The fleet's series over the timeline, and what the report must find."""

    times: np.ndarray  # unix seconds of every scrape
    series: list[SeriesData]
    down: dict[str, list[tuple[int, int]]]  # target -> [(first, last) index of down samples]
    end: int
    starts: dict[str, np.ndarray] = field(default_factory=dict)  # process start time, NaN down

    def total(self, name: str, start: float, **match: str) -> float:
        """Exact increase of ``name`` (summed over matching series) in (start, end]."""
        inside = self.times > start
        return float(
            sum(
                s.increments[inside].sum()
                for s in self.series
                if s.name == name and all(s.labels.get(k) == v for k, v in match.items())
            )
        )


def timeline(end: int, days: int = 90, fine_days: int = 7) -> np.ndarray:
    """Scrape times: 5-minute steps, the last ``fine_days`` at 1-minute steps."""
    start = end - days * DAY
    fine = end - min(fine_days, days) * DAY
    coarse_t = np.arange(start + 300, fine + 1, 300, dtype=np.int64)
    fine_t = np.arange(fine + 60, end + 1, 60, dtype=np.int64)
    return np.concatenate([coarse_t, fine_t])


def build(end: int, *, projects: int = 50, days: int = 90, seed: int = 7) -> Fleet:
    """The fleet's series and increments (no I/O)."""
    rng = np.random.default_rng(seed)
    times = timeline(end, days)
    dt = np.diff(np.concatenate([[times[0] - 300], times])).astype(float)
    start = end - days * DAY
    down: dict[str, list[tuple[int, int]]] = {}
    alive: dict[str, np.ndarray] = {}
    epoch: dict[str, np.ndarray] = {}  # process number at each sample
    for target, restarts in RESTARTS.items():
        up = np.ones(len(times), dtype=bool)
        proc = np.zeros(len(times), dtype=np.int64)
        spans = []
        for n, (day, minutes) in enumerate(restarts, 1):
            at = start + day * DAY * days / 90
            gone = (times >= at) & (times < at + minutes * 60)
            up &= ~gone
            proc[times >= at + minutes * 60] = n
            idx = np.nonzero(gone)[0]
            if len(idx):
                spans.append((int(idx[0]), int(idx[-1])))
        down[target], alive[target], epoch[target] = spans, up, proc
    series: list[SeriesData] = []

    def counter(name: str, labels: dict[str, str], target: str, rate_per_hour: float,
                amount: tuple[float, float] | None = None) -> SeriesData:  # fmt: skip
        lam = rate_per_hour * dt / 3600.0
        counts = rng.poisson(lam).astype(float)
        counts[~alive[target]] = 0.0
        if amount is not None:
            counts = np.round(counts * rng.uniform(*amount, size=len(counts)), 6)
        s = SeriesData(name, labels, target, "counter", counts)
        series.append(s)
        return s

    dur_count, dur_sum = M.OPERATION_DURATION + "_count", M.OPERATION_DURATION + "_sum"
    for p_index, project in enumerate(PROJECTS[:projects]):
        target = TARGETS[p_index % 2]
        busy = rng.uniform(0.05, 0.6)  # operations per hour per model
        for op, model, provider in MODELS:
            base = {"operation": op, "model": model, "provider": provider, "project": project}
            ok = counter(dur_count, {**base, "status": "success"}, target, busy)
            series.append(SeriesData(dur_sum, {**base, "status": "success"}, target, "counter",
                                     np.round(ok.increments * rng.uniform(3, 60), 6)))  # fmt: skip
            bad = counter(dur_count, {**base, "status": "error"}, target, busy * 0.1)
            series.append(SeriesData(dur_sum, {**base, "status": "error"}, target, "counter",
                                     np.round(bad.increments * rng.uniform(1, 30), 6)))  # fmt: skip
            counter(M.COST_USD, base, target, busy, amount=(0.01, 0.4))
            for error_type in ERROR_TYPES.get(op, DEFAULT_ERROR_TYPES[:2]):
                counter(M.OPERATION_ERRORS, {**base, "error_type": error_type}, target, busy * 0.05)
        for op in (*{m[0] for m in MODELS}, *RENDERS, "api_call"):
            counter(M.RETRIES, {"operation": op, "project": project}, target, busy * 0.3)
        for op in (*RENDERS, "api_call"):
            base = {"operation": op, "model": "", "provider": "", "project": project}
            for status in ("success", "error"):
                c = counter(dur_count, {**base, "status": status}, target, busy)
                series.append(SeriesData(dur_sum, {**base, "status": status}, target, "counter",
                                         np.round(c.increments * rng.uniform(1, 120), 6)))  # fmt: skip
            counter(M.OPERATION_ERRORS, {**base, "error_type": "timeout"}, target, busy * 0.05)
    for target in TARGETS:
        for op in QUEUE_OPS:
            counts = counter(M.QUEUE_WAIT + "_count", {"operation": op}, target, 6.0)
            series.append(SeriesData(M.QUEUE_WAIT + "_sum", {"operation": op}, target, "counter",
                                     np.round(counts.increments * rng.uniform(0.5, 9), 6)))  # fmt: skip
            for bound in M.QUEUE_WAIT_BUCKETS:
                share = min(1.0, bound / 10.0)
                b = np.floor(counts.increments * share)
                series.append(SeriesData(M.QUEUE_WAIT + "_bucket", {"operation": op,
                              "le": repr(float(bound))}, target, "counter", b))  # fmt: skip
            series.append(SeriesData(M.QUEUE_WAIT + "_bucket", {"operation": op, "le": "+Inf"},
                                     target, "counter", counts.increments.copy()))  # fmt: skip
        for endpoint in ("/api/render", "/api/assets/{id}", "/api/generate"):
            for code, error_type in (("429", "rate_limit"), ("503", "server_error")):
                labels = {"endpoint": endpoint, "status_code": code, "error_type": error_type}
                counter(M.API_ERRORS, labels, target, 0.5)
        for op, model, _ in MODELS:
            counter(M.SLOW_OPERATIONS, {"operation": op, "model": model}, target, 0.2)
    starts = {}
    for target, restarts in RESTARTS.items():
        begun = [start - 3600.0] + [
            start + day * DAY * days / 90 + minutes * 60 for day, minutes in restarts
        ]
        values = np.array([begun[n] for n in epoch[target]], dtype=float)
        values[~alive[target]] = np.nan
        starts[target] = values
    fleet = Fleet(times, series, down, end, starts)
    for s in series:
        _cumulate(s, epoch[s.target], alive[s.target])
    return fleet


def _cumulate(s: SeriesData, proc: np.ndarray, alive: np.ndarray) -> None:
    """Counter values per sample: cumulative within each process, NaN where absent."""
    values = np.full(len(s.increments), np.nan)
    for n in np.unique(proc):
        mask = (proc == n) & alive
        idx = np.nonzero(mask)[0]
        if not len(idx):
            continue
        cum = np.cumsum(s.increments[idx])
        born = np.nonzero(cum > 0)[0] if s.name != M.QUEUE_WAIT + "_bucket" else np.arange(1)
        if not len(born):
            continue
        first = born[0]
        values[idx[first:]] = cum[first:]
        s.increments[idx[:first]] = 0.0  # nothing before birth (all zero anyway)
    s.values = values


def _labels(labels: dict[str, str], target: str) -> str:
    pairs = {**labels, "job": JOB, "instance": target}
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(pairs.items()))
    return "{" + inner + "}"


def write_slice(fleet: Fleet, lo: int, hi: int, path: Path) -> int:
    """OpenMetrics text of samples with ``lo <= t < hi`` (one TSDB block range, which is
    half-open); returns the sample count."""
    sel = np.nonzero((fleet.times >= lo) & (fleet.times < hi))[0]
    if not len(sel):
        return 0
    ts = [str(int(t)) for t in fleet.times[sel]]
    written = 0
    by_family: dict[str, list[SeriesData]] = {}
    for s in fleet.series:
        family = s.name
        for suffix in ("_count", "_sum", "_bucket"):
            if family.endswith(suffix):
                family = family.removesuffix(suffix)
        by_family.setdefault(family, []).append(s)
    with path.open("w") as out:
        for family, members in by_family.items():
            kind = "histogram" if members[0].name != family else "counter"
            name = family.removesuffix("_total") if kind == "counter" else family
            out.write(f"# TYPE {name} {kind}\n")
            for s in members:
                prefix = s.name + _labels(s.labels, s.target) + " "
                vals = s.values[sel]
                lines = [
                    f"{prefix}{v:.10g} {t}\n" for v, t in zip(vals.tolist(), ts, strict=True)
                    if v == v  # not NaN: the series exists at that scrape
                ]  # fmt: skip
                written += len(lines)
                out.writelines(lines)
        out.write("# TYPE process_start_time_seconds gauge\n")
        for target in TARGETS:
            prefix = "process_start_time_seconds" + _labels({}, target) + " "
            lines = [
                f"{prefix}{v:.3f} {t}\n"
                for v, t in zip(fleet.starts[target][sel].tolist(), ts, strict=True)
                if v == v
            ]
            written += len(lines)
            out.writelines(lines)
        out.write("# TYPE up gauge\n")
        for target in TARGETS:
            down = np.zeros(len(fleet.times), dtype=bool)
            for a, b in fleet.down[target]:
                down[a : b + 1] = True
            prefix = "up" + _labels({}, target) + " "
            out.writelines(
                f"{prefix}{0 if d else 1} {t}\n"
                for d, t in zip(down[sel].tolist(), ts, strict=True)
            )
            written += len(sel)
        out.write("# EOF\n")
    return written


def slices(start: int, end: int) -> Iterator[tuple[int, int]]:
    lo = start - start % SLICE
    while lo < end:
        yield lo, min(lo + SLICE, end)
        lo += SLICE


def build_tsdb(fleet: Fleet, data_dir: Path, *, promtool: str = "promtool") -> int:
    """Blocks for the whole fleet in ``data_dir``; returns the number of samples.

    Pipelined: promtool turns one slice into a block while the next slice is written.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    running: tuple[subprocess.Popen[bytes], Path] | None = None
    with tempfile.TemporaryDirectory(prefix="otel-perf-fleet-") as tmp:
        for n, (lo, hi) in enumerate(slices(int(fleet.times[0]), fleet.end + 1)):
            text = Path(tmp) / f"slice-{n % 2}.om"
            total += write_slice(fleet, lo, hi, text)
            if running is not None:
                _finish(*running)
            running = (
                subprocess.Popen(
                    [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(text),
                     str(data_dir)],
                    stdout=subprocess.DEVNULL, env={**os.environ, "GOGC": "50"},
                ),
                text,
            )  # fmt: skip
        if running is not None:
            _finish(*running)
    return total


def _finish(proc: subprocess.Popen[bytes], text: Path) -> None:
    if proc.wait() != 0:
        raise RuntimeError(f"promtool failed on {text}")
    text.unlink(missing_ok=True)
