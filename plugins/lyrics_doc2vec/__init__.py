"""Built-in plugin `lyrics-doc2vec` (being implemented)."""
