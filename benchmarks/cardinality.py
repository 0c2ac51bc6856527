"""Target 4: a cardinality attack keeps series at the limit and memory bounded.

Runs in a child process (``python -m benchmarks.cardinality``) so its memory figures are
its own. Each iteration is two tracked operations through the full pipeline: a
generation with a never-seen model name and a failed render with a never-seen template
id. Memory is the process's resident set (``/proc/self/status``), measured after a warm-up
of ordinary traffic and after the attack; the peak comes from ``getrusage``.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from typing import Any

from benchmarks.report import Row


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def attack(iterations: int, limit: int) -> dict[str, Any]:
    """Run the attack in this process; the figures as a dict."""
    import otel_perf
    from benchmarks import pipelines
    from otel_perf import metrics as M

    ours = pipelines.Ours(cardinality_limit=limit)
    try:
        for i in range(2000):  # ordinary traffic first: caches and series warm
            with otel_perf.track_generation("generate_image", model="flux", provider="bfl"):
                pass
            with otel_perf.track_render("still", template_id=f"tpl_{i % 8}"):
                pass
        gc.collect()
        before, peak_before = _rss_mb(), _peak_mb()
        start = time.perf_counter()
        for i in range(iterations):
            with otel_perf.track_generation(
                "generate_image", model=f"attack-model-{i}", provider="bfl"
            ):
                pass
            with otel_perf.track_render("still", template_id=f"attack-tpl-{i}") as render:
                render.fail("missing_asset")
        elapsed = time.perf_counter() - start
        gc.collect()
        after, peak_after = _rss_mb(), _peak_mb()
        series = {name: metric.series_count for name, metric in ours.processor.metrics.all.items()}
        overflow = dict(ours.processor.metrics.overflows.counts)
        exposed = {}
        for family in ours.registry.collect():
            names = {tuple(sorted(s.labels.items())) for s in family.samples}
            if family.name.startswith(M.PREFIX):
                exposed[family.name] = len(
                    {tuple((k, v) for k, v in labels if k != "le") for labels in names}
                )
    finally:
        ours.shutdown()
    return {
        "iterations": iterations,
        "limit": limit,
        "seconds": elapsed,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "growth_mb": after - before,
        "peak_growth_mb": max(0.0, peak_after - peak_before),
        "series": series,
        "max_series": max(series.values()),
        "exposed_label_sets": exposed,
        "overflow": overflow,
    }


def run_child(iterations: int, limit: int) -> dict[str, Any]:
    """The attack in a fresh interpreter, so the memory figures are its own."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.cardinality", str(iterations), str(limit)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout))


def rows(iterations: int, limit: int) -> tuple[list[Row], dict[str, Any]]:
    r = run_child(iterations, limit)
    folded = sum(r["overflow"].values())
    attacked = ", ".join(
        f"{name.removeprefix('otel_perf_')} {count:,}"
        for name, count in sorted(r["overflow"].items())
        if count
    )
    return [
        Row(
            "4",
            f"cardinality attack: {iterations:,} new model names + {iterations:,} new template ids",
            f"limit {limit} label sets/metric",
            f"max {r['max_series']} exposed",
            None,
            "≤ limit, overflow counted",
            r["max_series"] <= limit and folded > 0,
            f"folds counted {folded:,} ({attacked})",
        ),
        Row(
            "4",
            "memory growth during the attack (RSS after − before; peak)",
            f"{r['rss_before_mb']:.1f} MB before",
            f"{r['growth_mb']:+.1f} MB (peak {r['peak_growth_mb']:+.1f})",
            None,
            "< 50 MB",
            r["growth_mb"] < 50 and r["peak_growth_mb"] < 50,
            f"{2 * iterations:,} tracked ops in {r['seconds']:.1f} s",
        ),
    ], r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("iterations", type=int)
    parser.add_argument("limit", type=int)
    args = parser.parse_args()
    print(json.dumps(attack(args.iterations, args.limit)))


if __name__ == "__main__":
    main()
