"""Built-in plugin `objective-dcca`: deep CCA (Andrew et al. 2013), two or three views."""

from ugaar_kit import hookimpl


@hookimpl
def register_objectives(register):
    from .objective import DeepCCA

    register(DeepCCA)
