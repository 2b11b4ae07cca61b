#!/usr/bin/env bash
# Run every benchmark on the default models and rewrite benchmarks/REPORT.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
.venv/bin/python -m benchmarks.speech
.venv/bin/python -m benchmarks.conversation
