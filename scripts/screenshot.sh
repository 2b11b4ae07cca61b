#!/usr/bin/env bash
# Take a screenshot of the real window under Xvfb: scripts/screenshot.sh OUT.png [TAB] [SECONDS]
# Needs: apt-get install xvfb xauth imagemagick (scripts/run.sh installs the Qt X11 libraries).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(realpath -m "${1:-$ROOT/docs/screenshot.png}")"
TAB="${2:-}"
WAIT="${3:-8}"
source "$ROOT/scripts/pulse.sh" || true
export VOXELLE_HOME="${VOXELLE_HOME:-$(mktemp -d)}"
[[ -n "$TAB" ]] && export VOXELLE_UI__LAST_TAB="$TAB"
xvfb-run -a -s "-screen 0 1180x760x24" bash -c "
  QT_QPA_PLATFORM=xcb '$ROOT/.venv/bin/voxelle' & pid=\$!
  sleep $WAIT
  import -window root '$OUT'
  kill -INT \$pid; wait \$pid
"
echo "$OUT"
