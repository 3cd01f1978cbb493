"""Built-in plugin `objective-contrastive`: symmetric InfoNCE over every modality pair."""

from ugaar_kit import hookimpl


@hookimpl
def register_objectives(register):
    from .objective import Contrastive

    register(Contrastive)
