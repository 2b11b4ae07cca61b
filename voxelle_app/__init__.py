"""Voxelle: a local AI co-host for live streamers."""

import os as _os

# Whisper (CTranslate2) and llama.cpp use OpenMP. By default idle OpenMP threads spin for a
# while after each job; on a 2-core PC that spinning starved the language model (first
# token 2.3 s instead of 0.44 s, measured). Must be set before either library loads.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
