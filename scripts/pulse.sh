#!/usr/bin/env bash
# Start a private PulseAudio with a null sink, so real audio streams open and run in real
# time on a machine without a sound card; what plays into the sink can be recorded back
# from nullsink.monitor. Source it. Reuses a daemon that is already running.
export XDG_RUNTIME_DIR="${VOXELLE_PULSE_DIR:-/tmp/voxelle-pulse-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
if ! pactl info >/dev/null 2>&1; then
  pulseaudio --daemonize=yes --exit-idle-time=-1 --disallow-exit -n \
    --load="module-null-sink sink_name=nullsink" \
    --load="module-native-protocol-unix" >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
fi
if pactl info >/dev/null 2>&1; then
  pactl set-default-sink nullsink >/dev/null 2>&1 || true
  pactl set-default-source nullsink.monitor >/dev/null 2>&1 || true
  export VOXELLE_TEST_PULSE=1
else
  echo "[voxelle] PulseAudio did not start; the audio tests need it (apt-get install pulseaudio)" >&2
  return 1
fi
