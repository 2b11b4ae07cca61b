"""Persona, history and prompt assembly."""
