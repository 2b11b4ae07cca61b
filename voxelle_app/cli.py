"""Command line: the window by default, plus headless subcommands.

Output meant for scripts goes to stdout; logs and diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from voxelle_app import __version__
from voxelle_app.core.errors import VoxelleError, describe


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voxelle", description="Voxelle, a local AI co-host for live streamers."
    )
    parser.add_argument("--version", action="version", version=f"voxelle {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more to the terminal")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("gui", help="open the main window (the default)")
    sub.add_parser("devices", help="list sound devices")
    sub.add_parser("doctor", help="check this machine and print a fix for each problem")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    commands: dict[str | None, Callable[[argparse.Namespace], int]] = {
        None: cmd_gui,
        "gui": cmd_gui,
        "devices": cmd_devices,
        "doctor": cmd_doctor,
    }
    try:
        return commands[args.command](args)
    except VoxelleError as exc:
        print(f"voxelle: {exc.user_message()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _stderr_level(args: argparse.Namespace) -> int:
    return logging.INFO if getattr(args, "verbose", False) else logging.WARNING


def cmd_gui(args: argparse.Namespace) -> int:
    from voxelle_app.bootstrap import build_context, run_gui

    return run_gui(build_context(stderr_level=_stderr_level(args)))


def cmd_devices(args: argparse.Namespace) -> int:
    from voxelle_app.core.audio.devices import list_devices

    devices = list_devices()
    if not devices:
        print("No sound devices found.", file=sys.stderr)
        return 1
    print(f"{'#':>3}  {'in':>3} {'out':>3}  {'rate':>6}  {'host API':<12} name")
    for d in devices:
        mark = ("<" if d.is_default_input else " ") + (">" if d.is_default_output else " ")
        print(
            f"{d.index:>3}{mark}{d.max_input_channels:>3} {d.max_output_channels:>3}  "
            f"{d.default_samplerate:>6.0f}  {d.host_api:<12} {d.name}"
        )
    print("< default input, > default output")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from voxelle_app.doctor import run_checks

    results = run_checks(os.environ)
    worst = 0
    for r in results:
        print(f"[{r.status:<4}] {r.name}: {r.detail}")
        if r.hint and r.status != "ok":
            print(f"       fix: {r.hint}")
        worst = max(worst, {"ok": 0, "warn": 1, "fail": 2}[r.status])
    return 1 if worst == 2 else 0


if __name__ == "__main__":  # pragma: no cover
    try:
        raise SystemExit(main())
    except Exception as exc:  # last resort: a sentence, not a traceback
        print(f"voxelle: {describe(exc)}", file=sys.stderr)
        raise SystemExit(1) from None
