"""The example plugin's own tests: the conformance checks every encoder plugin should run."""

import pytest
from ugaar_kit_example_encoder.encoder import SyllableEncoder

from ugaar_kit.errors import InputError
from ugaar_kit.testing import check_encoder

LINES = ["twin kle twin kle lit tle star", "how i won der what you are", "up a bove the world so high"]


def test_conforms():
    check_encoder(lambda: SyllableEncoder(), LINES)


def test_structure_not_meaning():
    enc = SyllableEncoder().eval()
    a, b, c = enc.encode(["la la la", "do re mi", "la la la la la la la"])
    assert (a - b).abs().max() < 1e-6  # same syllable lengths, same embedding
    assert (a - c).abs().max() > 1e-4  # more syllables, another embedding


def test_empty_file_is_a_clear_error(tmp_path):
    f = tmp_path / "empty.txt"
    f.write_text("  \n")
    with pytest.raises(InputError, match="empty.txt: no lyrics"):
        SyllableEncoder().load_item(f)
