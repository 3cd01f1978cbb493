"""Built-in plugin `dataset-lmd` (being implemented)."""
