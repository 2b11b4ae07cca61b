"""Voxelle: a local AI co-host for live streamers."""

__version__ = "0.1.0"
