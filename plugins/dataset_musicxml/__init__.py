"""Built-in plugin `dataset-musicxml` (being implemented)."""
