"""Built-in plugin `lyrics-transformer` (being implemented)."""
