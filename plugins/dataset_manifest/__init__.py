"""Built-in plugin `dataset-manifest` (being implemented)."""
