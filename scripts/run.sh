#!/usr/bin/env bash
# Set up everything Voxelle needs (system packages, .venv, models) and open the app.
# Extra arguments go to the `voxelle` command, e.g. scripts/run.sh doctor
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh" run
exec "$ROOT/.venv/bin/voxelle" "$@"
