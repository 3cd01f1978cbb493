"""Built-in plugin `audio-hf` (being implemented)."""
