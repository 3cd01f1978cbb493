"""Built-in plugin `lyrics-doc2vec`: the `doc2vec` lyrics encoder (gensim Doc2vec + dense layers)."""

from ugaar_kit import hookimpl


@hookimpl
def register_encoders(register):  # noqa: ANN001, ANN201 - pluggy hook
    from .encoder import Doc2VecLyrics

    register(Doc2VecLyrics)
