"""Building dataset folders of sheet/audio/lyrics triplets from score sources."""
