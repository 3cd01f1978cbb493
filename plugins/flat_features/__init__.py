"""Built-in plugin `flat-features`: the `flat` audio and sheet encoders (fixed-size raw features,
flattened, no parameters), the inputs of the linear-CCA baseline (`--objective cca`)."""

from ugaar_kit import hookimpl


@hookimpl
def register_encoders(register):  # noqa: ANN001, ANN201 - pluggy hook
    from .audio import FlatAudio
    from .sheet import FlatSheet

    register(FlatAudio)
    register(FlatSheet)
