"""The names of the records ``otel-perf report`` reads (its ``otel-perf-report.rules``
group, built in :mod:`otel_perf.monitoring.rules`), apart so the report imports them
without the monitoring definition."""

from __future__ import annotations

from typing import Final

from otel_perf import metrics as M

#: The report's counter grid (``otel-perf report``): per target the duration counter
#: summed over everything but ``operation`` and ``status`` (and the target labels), and
#: the time of each evaluation. The two are in one group, so each evaluation writes both
#: at the same instant: the timestamp tells the report which raw samples a record holds.
REPORT_OPERATIONS: Final = "otel_perf:report_operations:sum"
REPORT_EVALUATED: Final = "otel_perf:report_evaluation:timestamp_seconds"
#: The labels of the duration counter the report's record keeps (target labels too).
REPORT_KEEPS: Final = ("operation", "status")
#: ... and the ones it sums away.
REPORT_DROPS: Final = tuple(
    label for label in M.SPECS_BY_NAME[M.OPERATION_DURATION].labels if label not in REPORT_KEEPS
)
