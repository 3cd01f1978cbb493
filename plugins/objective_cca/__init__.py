"""Built-in plugin `objective-cca`: linear CCA / GCCA on fixed features, the classic baseline."""

from ugaar_kit import hookimpl


@hookimpl
def register_objectives(register):
    from .objective import LinearCCA

    register(LinearCCA)
