"""Built-in plugin `dataset-musicxml`: the `musicxml` score source (MusicXML scores with lyrics)."""

from ugaar_kit import hookimpl


@hookimpl
def register_datasets(register):  # noqa: ANN001, ANN201 - pluggy hook
    from .source import MusicXMLSource

    register(MusicXMLSource)
