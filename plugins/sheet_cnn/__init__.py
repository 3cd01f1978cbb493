"""Built-in plugin `sheet-cnn` (being implemented)."""
