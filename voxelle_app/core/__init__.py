"""The Qt-free core: events, bus, settings, operations and the pipeline."""
