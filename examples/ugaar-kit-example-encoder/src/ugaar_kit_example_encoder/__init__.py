"""An example ugaar-kit plugin: the `syllables` lyrics encoder."""
