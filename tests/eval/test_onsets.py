"""Counting note onsets in audio (the `onset_count` baseline's counter): melodies synthesized as
the dataset builder renders them, including repeated notes, rests and chords of one pitch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ugaar_kit.build.synth import TIMBRES, synthesize, wav_bytes
from ugaar_kit.errors import InputError
from ugaar_kit.toolkit.onsets import OnsetRule, count_file_onsets, count_onsets


def melody(pitches: list[int], step: float = 0.3, length: float = 0.25) -> list[tuple[int, float, float]]:
    return [(p, i * step, length) for i, p in enumerate(pitches)]


@pytest.mark.parametrize("timbre", ["piano", "bright"])
def test_counts_the_notes_of_a_synthesized_melody(timbre: str) -> None:
    """The struck timbres (`piano` is the builder's default); an isolated note's release click
    can count as one more, so melodies here have several notes."""
    rng = np.random.default_rng(0)
    for n in (3, 6, 10):
        pitches = [int(p) for p in rng.integers(55, 80, n)]
        wave = torch.from_numpy(synthesize(melody(pitches), timbre=TIMBRES[timbre]))
        assert count_onsets(wave) == n, (timbre, pitches)


def test_repeated_notes_and_rests_count_once_each() -> None:
    notes = [(67, 0.0, 0.2), (67, 0.25, 0.2), (67, 0.5, 0.2), (69, 1.5, 0.5), (69, 2.05, 0.15)]
    wave = torch.from_numpy(synthesize(notes))
    assert count_onsets(wave) == 5
    # a higher threshold misses the quieter re-attacks of one pitch: why the default is low
    assert count_onsets(wave, OnsetRule(threshold=0.9)) < 5


def test_silence_has_no_onsets() -> None:
    assert count_onsets(torch.zeros(22050)) == 0


def test_counts_files_and_names_a_bad_one(tmp_path) -> None:
    good = tmp_path / "good.wav"
    good.write_bytes(wav_bytes(synthesize(melody([60, 62, 64, 65])), 22050))
    assert count_file_onsets([good]) == [4]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    with pytest.raises(InputError, match="bad.wav"):
        count_file_onsets([good, bad])
