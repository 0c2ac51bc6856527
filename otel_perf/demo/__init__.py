"""``otel-perf demo``: a synthetic, instrumented media pipeline (:mod:`.workload`) and the
subcommand that runs it and serves ``/metrics`` (:mod:`.command`)."""

from otel_perf.demo.workload import (
    PROFILES,
    DemoNetworkError,
    DemoProviderError,
    PlannedOp,
    Profile,
    Workload,
    ledger,
    plan,
    run,
    summary,
    write_ledger,
)

__all__ = [
    "PROFILES",
    "DemoNetworkError",
    "DemoProviderError",
    "PlannedOp",
    "Profile",
    "Workload",
    "ledger",
    "plan",
    "run",
    "summary",
    "write_ledger",
]
