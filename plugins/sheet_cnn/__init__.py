"""Built-in plugin `sheet-cnn`: the `cnn` sheet-music encoder (greyscale snippet at a fixed
height, VGG-style CNN pooled over width with the padding mask, dense head)."""

from ugaar_kit import hookimpl


@hookimpl
def register_encoders(register):  # noqa: ANN001, ANN201 - pluggy hook
    from .encoder import SheetCNN

    register(SheetCNN)
