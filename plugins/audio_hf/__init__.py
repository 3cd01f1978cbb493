"""Built-in plugin `audio-hf`: the `hf` audio encoder (a pretrained audio transformer from a
local Hugging Face folder, mean-pooled over its frames, and a dense head)."""

from ugaar_kit import hookimpl


@hookimpl
def register_encoders(register):  # noqa: ANN001, ANN201 - pluggy hook
    from .encoder import HFAudio

    register(HFAudio)
