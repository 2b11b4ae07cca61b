"""Text to text (the co-host's thinking)."""

from voxelle_app.core.operations.t2t.base import ChatMessageDict, TextToText

__all__ = ["ChatMessageDict", "TextToText"]
