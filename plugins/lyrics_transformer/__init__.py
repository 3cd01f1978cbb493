"""Built-in plugin `lyrics-transformer`: the `transformer` lyrics encoder (a local pretrained
transformers model, pooled with the syllable count, and a dense head)."""

from ugaar_kit import hookimpl


@hookimpl
def register_encoders(register):  # noqa: ANN001, ANN201 - pluggy hook
    from .encoder import TransformerLyrics

    register(TransformerLyrics)
