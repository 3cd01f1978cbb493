"""Built-in plugin `audio-cnn`: the `cnn` audio encoder (log-mel spectrogram, VGG-style CNN
pooled over time with the padding mask, dense head)."""

from ugaar_kit import hookimpl


@hookimpl
def register_encoders(register):  # noqa: ANN001, ANN201 - pluggy hook
    from .encoder import AudioCNN

    register(AudioCNN)
