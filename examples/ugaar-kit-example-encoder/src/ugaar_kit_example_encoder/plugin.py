"""The hook implementations ugaar-kit finds through this package's entry point."""

from ugaar_kit import hookimpl


@hookimpl
def register_encoders(register):
    # Import inside the hook: discovering plugins must stay cheap.
    from .encoder import SyllableEncoder

    register(SyllableEncoder)
