"""One variant's operations in a loop, for counting instructions under callgrind.

    python -m benchmarks.instructions VARIANT COUNT

VARIANT is ``bare`` (idiomatic bare span with the tracked span's attributes),
``bare_minimal``, ``tracked_off`` (the tracker with our processor disabled) or
``tracked``. The batch processor is replaced by a no-op so that its worker thread does not
blur the count; ``benchmarks/callgrind.sh`` runs COUNT = 0 and 2,000 and prints the
difference per operation.
"""

from __future__ import annotations

import sys
from typing import Any

from benchmarks import pipelines


class _NoExport:
    """Stands in for the BatchSpanProcessor: same calls, no worker thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def _on_ending(self, span: Any) -> None:
        pass

    def on_end(self, span: Any) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def main() -> None:
    variant, count = sys.argv[1], int(sys.argv[2])
    pipelines.BatchSpanProcessor = _NoExport  # type: ignore[misc, assignment]
    attributes = pipelines.final_attributes()
    bare = pipelines.Bare()
    ours = pipelines.Ours()
    run = {
        "bare": pipelines.bare_span(bare.tracer, attributes),
        "bare_minimal": pipelines.bare_span_minimal(bare.tracer, attributes),
        "tracked_off": pipelines.tracked_generation,
        "tracked": pipelines.tracked_generation,
    }[variant]
    if variant == "tracked_off":
        ours.processor.disable()
    for _ in range(200 + count):
        run()


if __name__ == "__main__":
    main()
