"""Command line: the window by default, plus headless subcommands.

Output meant for scripts goes to stdout; logs and diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

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

    say = sub.add_parser("say", help="speak TEXT with the co-host's voice (to a WAV, or aloud)")
    say.add_argument("text", help="what to say")
    say.add_argument("--out", type=Path, help="write a WAV file instead of playing it")
    say.add_argument("--voice", help="a piper .onnx voice (default: the one in settings)")
    say.add_argument("--effects", metavar="PRESET", help="an effect preset (default: settings)")
    say.add_argument("--speed", type=float, help="speaking rate, 1.0 = normal")

    tr = sub.add_parser("transcribe", help="print the text spoken in a WAV file")
    tr.add_argument("wav", type=Path)
    tr.add_argument("--model", help="a CTranslate2 Whisper folder (default: settings)")
    tr.add_argument("--language", help="language code, or auto (default: settings)")

    chat = sub.add_parser("chat", help="talk with the co-host by text in the terminal")
    chat.add_argument("--once", metavar="TEXT", help="print one reply to TEXT and exit")

    run = sub.add_parser("run", help="run the co-host without a window")
    run.add_argument("--headless", action="store_true", required=True,
                     help="no window and no sound devices (required)")
    run.add_argument("--input-wav", type=Path, required=True,
                     help="speech fed in as if spoken into the microphone")
    run.add_argument("--output-wav", type=Path, required=True,
                     help="everything the co-host says is written here")
    run.add_argument("--events-out", type=Path, help="every event, one JSON line each")
    run.add_argument("--fast", action="store_true", help="do not pace audio in real time")
    mod = sub.add_parser("moderate", help="check lines from stdin against the blocklist (JSON lines out)")
    mod.add_argument("--blocklist", type=Path, help="a file of extra terms, one per line")

    models = sub.add_parser("models", help="list, download or remove downloadable models")
    models.add_argument("action", choices=["list", "download", "remove"], nargs="?", default="list")
    models.add_argument("name", nargs="?", help="the model's name (see voxelle models list)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    commands: dict[str | None, Callable[[argparse.Namespace], int]] = {
        None: cmd_gui,
        "gui": cmd_gui,
        "devices": cmd_devices,
        "doctor": cmd_doctor,
        "say": cmd_say,
        "transcribe": cmd_transcribe,
        "chat": cmd_chat,
        "moderate": cmd_moderate,
        "models": cmd_models,
        "run": cmd_run,
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

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("QT_QPA_PLATFORM")
    ):
        # Qt would abort the process with a message about xcb; say what to do instead.
        print("voxelle: no display found. Start Voxelle from your desktop session, or use "
              "the commands that need no window: voxelle chat, voxelle run --headless "
              "(voxelle --help lists them).", file=sys.stderr)
        return 2

    return run_gui(build_context(stderr_level=_stderr_level(args)))


def _context(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from voxelle_app.bootstrap import build_context

    return build_context(stderr_level=_stderr_level(args))


def cmd_say(args: argparse.Namespace) -> int:
    import asyncio

    from voxelle_app.core.audio.wavio import write_wav
    from voxelle_app.core.voice import Voice

    ctx = _context(args)
    if args.voice:
        ctx.settings.tts.voice = args.voice
    if args.speed:
        ctx.settings.tts.speed = args.speed
    voice = Voice(ctx.settings, ctx.bus)
    if args.effects:
        voice.apply_preset(args.effects)

    async def run() -> int:
        if not await voice.load():
            print(f"voxelle: {voice.detail}", file=sys.stderr)
            return 2
        audio = await voice.render(args.text)
        if args.out:
            write_wav(args.out, audio, voice.sample_rate)
            print(f"wrote {audio.size / voice.sample_rate:.2f} s to {args.out}", file=sys.stderr)
            return 0
        engine = ctx.audio
        if not await engine.open_output(ctx.settings.audio.output_device):
            print("voxelle: no output device could be opened; use --out FILE.wav", file=sys.stderr)
            return 2
        engine.play(audio, voice.sample_rate)
        await asyncio.to_thread(engine.playback.wait_until_drained, audio.size / voice.sample_rate + 10)
        await asyncio.sleep(0.3)  # let the device play out its own buffer
        await engine.stop()
        return 0

    try:
        return asyncio.run(run())
    finally:
        voice.shutdown()


def cmd_transcribe(args: argparse.Namespace) -> int:
    from voxelle_app.core.audio.resample import resample
    from voxelle_app.core.audio.wavio import read_wav
    from voxelle_app.core.hearing import whisper_from_settings

    ctx = _context(args)
    if args.model:
        ctx.settings.stt.model = args.model
    if args.language:
        ctx.settings.stt.language = args.language
    audio, rate = read_wav(args.wav)
    stt = whisper_from_settings(ctx.settings)
    stt.load()
    result = stt.transcribe(resample(audio, rate, 16000))
    print(result.text)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    import asyncio

    from voxelle_app.headless import run_chat

    ctx = _context(args)
    return asyncio.run(run_chat(ctx, args.once))


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from voxelle_app.bootstrap import build_integrations
    from voxelle_app.headless import run_headless

    ctx = _context(args)

    async def main() -> int:
        ctx.bus.attach(asyncio.get_running_loop())
        integrations = build_integrations(ctx, enabled_only=True)
        return await run_headless(ctx, args.input_wav, args.output_wav, args.events_out,
                                  args.fast, integrations)

    return asyncio.run(main())


def cmd_moderate(args: argparse.Namespace) -> int:
    import json

    from voxelle_app.core.paths import AppPaths
    from voxelle_app.core.safety import load_blocklist, moderate
    from voxelle_app.core.settings import SettingsStore

    # Read-only: the streamer's own list from settings, plus the file; no logging set-up.
    settings = SettingsStore(AppPaths.from_env().settings_file).load().settings
    blocklist = load_blocklist(settings.safety, args.blocklist)
    for result in moderate((line.rstrip("\n") for line in sys.stdin), blocklist):
        print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from voxelle_app.core.models import models_command

    ctx = _context(args)
    if ctx.models is None:
        print(f"voxelle: {' '.join(ctx.messages)}", file=sys.stderr)
        return 2
    return models_command(args.action, args.name, ctx.models, sys.stdout)


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
