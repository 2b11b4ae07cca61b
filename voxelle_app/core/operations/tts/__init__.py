"""Text to speech."""

from voxelle_app.core.operations.tts.base import TextToSpeech

__all__ = ["TextToSpeech"]
