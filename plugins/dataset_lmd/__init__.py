"""Built-in plugin `dataset-lmd`: the `lmd-lyrics` score source (LMD lyrics-melody arrays)."""

from ugaar_kit import hookimpl


@hookimpl
def register_datasets(register):
    from .source import LmdLyricsSource

    register(LmdLyricsSource)
