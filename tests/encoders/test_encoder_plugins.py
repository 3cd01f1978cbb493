"""The three encoders are found through their entry points and `plugins show` lists their options."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from ugaar_kit.cli.app import build_app
from ugaar_kit.registry.discovery import get_registry


def test_registered_under_their_modalities():
    reg = get_registry()
    assert reg.encoder("audio", "cnn").__name__ == "AudioCNN"
    assert reg.encoder("sheet", "cnn").__name__ == "SheetCNN"
    assert reg.encoder("audio", "hf").__name__ == "HFAudio"


def test_plugins_show_cnn_lists_both_encoders_options():
    result = CliRunner().invoke(build_app(get_registry()), ["plugins", "show", "cnn"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "audio/cnn" in out and "sheet/cnn" in out
    for key in ("n_mels", "hop", "max_seconds", "weights", "freeze", "height", "max_width"):
        assert re.search(rf"\b{key}\b", out), key
    assert "Wider snippets (after resizing) are squeezed to this width, never cropped." in out
