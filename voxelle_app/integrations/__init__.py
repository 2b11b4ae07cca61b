"""Connections to the outside: Twitch, Discord, VTube Studio. Each imports core only."""
