"""Built-in plugin: the `ugaar` objective (audio-sheet CCA ground truth, lyrics transfer, GAN)."""

from ugaar_kit import hookimpl


@hookimpl
def register_objectives(register):
    from .objective import UGAAR

    register(UGAAR)
