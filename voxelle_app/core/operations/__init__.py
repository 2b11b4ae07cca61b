"""Model operations: one small interface each (stt, tts, t2t, filter_audio), backends behind it."""
