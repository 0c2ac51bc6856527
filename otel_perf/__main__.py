"""``python -m otel_perf`` runs the ``otel-perf`` command."""

import sys

from otel_perf.cli import main

sys.exit(main())
