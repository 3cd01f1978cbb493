"""Built-in plugin `lyrics-prosody`: the `prosody` lyrics encoder (the line's syllables with their
word position, stress and vowel from the CMU dictionary, read by a bidirectional GRU)."""

from ugaar_kit import hookimpl


@hookimpl
def register_encoders(register):  # noqa: ANN001, ANN201 - pluggy hook
    from .encoder import ProsodyLyrics

    register(ProsodyLyrics)
