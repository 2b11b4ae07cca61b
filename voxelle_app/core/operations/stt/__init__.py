"""Speech to text."""

from voxelle_app.core.operations.stt.base import SpeechToText, Transcript

__all__ = ["SpeechToText", "Transcript"]
