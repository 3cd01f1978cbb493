"""Built-in plugin `dataset-manifest`: the `manifest` item source (your own aligned files)."""

from ugaar_kit import hookimpl


@hookimpl
def register_datasets(register):  # noqa: ANN001, ANN201 - pluggy hook
    from .source import ManifestSource

    register(ManifestSource)
