"""Voice effects (pedalboard)."""
