#!/usr/bin/env bash
# Instructions per operation for each variant, counted by callgrind (deterministic, unlike
# timings on a shared machine): runs benchmarks.instructions with 0 and 2,000 operations
# and prints the difference divided by 2,000. Needs valgrind; takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="$(python3 -c 'import sys; print(sys.executable)')"
count() {
  PYTHONHASHSEED=0 PYTHONPATH=. valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$PYTHON" -m benchmarks.instructions "$1" "$2" 2>&1 | awk '/Collected/ {print $4}'
}
for variant in "${@:-bare bare_minimal tracked_off tracked}"; do
  for v in $variant; do
    zero=$(count "$v" 0)
    many=$(count "$v" 2000)
    echo "$v $(( (many - zero) / 2000 ))"
  done
done
