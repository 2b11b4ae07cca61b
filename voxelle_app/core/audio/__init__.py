"""Audio devices, capture, playback, VAD and resampling."""
