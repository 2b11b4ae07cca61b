#!/usr/bin/env bash
# A screenshot of the real window under Xvfb:
#   scripts/screenshot.sh OUT.png [TAB_INDEX] [SECONDS] [TEXT_TO_TYPE]
# With TEXT_TO_TYPE, it is typed into the conversation box and sent first.
# Needs: apt-get install xvfb xauth imagemagick xdotool (run.sh installs the Qt X11 libraries).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(realpath -m "${1:-$ROOT/docs/screenshot.png}")"
TAB="${2:-}"
WAIT="${3:-8}"
SAY="${4:-}"
source "$ROOT/scripts/pulse.sh" || true
export VOXELLE_HOME="${VOXELLE_HOME:-$(mktemp -d)}"
[[ -n "$TAB" ]] && export VOXELLE_UI__LAST_TAB="$TAB"
export VOXELLE_SAY="$SAY"
xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
  QT_QPA_PLATFORM=xcb "'"$ROOT"'/.venv/bin/voxelle" & pid=$!
  sleep 6
  if [[ -n "$VOXELLE_SAY" ]]; then
    wid=$(xdotool search --sync --name Voxelle | head -1); xdotool windowfocus --sync "$wid" 2>/dev/null || true
    xdotool type --delay 20 "$VOXELLE_SAY"; xdotool key Return
  fi
  sleep '"$WAIT"'
  import -window root "'"$OUT"'"
  kill -INT $pid; wait $pid
'
echo "$OUT"
