"""Built-in plugin `audio-cnn` (being implemented)."""
