#!/usr/bin/env bash
# Set up everything (as run.sh does, plus test tools and a PulseAudio null sink) and run the
# whole suite: ruff, mypy, the import contracts, then pytest. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh" test
cd "$ROOT"
source "$ROOT/scripts/pulse.sh"

export QT_QPA_PLATFORM=offscreen
say "ruff";   .venv/bin/ruff check voxelle_app tests benchmarks scripts
say "mypy";   .venv/bin/mypy voxelle_app
say "import contracts"; .venv/bin/lint-imports --no-cache
say "pytest"
set +e
.venv/bin/python -m pytest -q -rs "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then say "pytest collected no tests: that is a failure"; exit 1; fi
exit $rc
