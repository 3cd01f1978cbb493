"""The `doc2vec` lyrics encoder: conformance, reproducible inference across processes, the
fitted model's plain-value save/load, what its vectors retrieve, and its input errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ugaar_kit_plugins.lyrics_doc2vec.encoder import COUNT_BUCKETS, Doc2VecLyrics

from ugaar_kit.data.lyrics_text import normalize_lyrics
from ugaar_kit.errors import InputError, UgaarError
from ugaar_kit.interfaces.state import encoder_state, load_safe, restore_encoder, save_atomic
from ugaar_kit.registry.discovery import load_registry
from ugaar_kit.testing import check_encoder

SMALL = {"vector_size": 32, "epochs": 40, "min_count": 1, "hidden": 32, "dim": 16}


def small(**values: object) -> Doc2VecLyrics:
    return Doc2VecLyrics.from_options({**SMALL, **values})  # type: ignore[return-value]


@pytest.fixture(scope="module")
def fitted(lyric_lines: list[str]) -> Doc2VecLyrics:
    enc = small()
    enc.fit(lyric_lines)
    return enc


def test_registered_as_lyrics_encoder() -> None:
    registry, _ = load_registry(autoload=False)
    assert registry.encoder("lyrics", "doc2vec") is Doc2VecLyrics


@pytest.mark.parametrize("values", [{}, {"count_features": False, "hidden": 0, "dm": True}])
def test_conforms_on_lyric_lines(lyric_lines: list[str], values: dict) -> None:
    enc = check_encoder(lambda: small(**values), lyric_lines[:12])
    width = 32 + (COUNT_BUCKETS + 2 if enc.options.count_features else 0)
    assert enc.featurize(lyric_lines[0]).shape == (width,)


def test_unfitted_encoder_refuses_to_featurize() -> None:
    enc = small()
    assert not enc.is_fitted
    with pytest.raises(UgaarError, match="not fitted"):
        enc.featurize("twin kle")
    with pytest.raises(UgaarError, match="not fitted"):
        enc.feature_key()


def test_fit_without_usable_lyrics_is_a_clear_error() -> None:
    with pytest.raises(UgaarError, match="no lyrics to fit on"):
        small().fit(["", "  "])
    with pytest.raises(UgaarError, match="min_count"):
        small(min_count=5).fit(["a b c", "d e f"])


def test_syllable_count_features(fitted: Doc2VecLyrics) -> None:
    feats = fitted.featurize("a maz ing grace")  # 4 syllables
    tail = feats[32:]
    assert tail[0] == pytest.approx(torch.log1p(torch.tensor(4.0)).item())
    assert tail[1:].argmax().item() == 4 and tail[1:].sum().item() == 1.0
    long_line = " ".join(["la"] * 40)
    assert fitted.featurize(long_line)[32 + 1 + COUNT_BUCKETS] == 1.0  # counts above 16 share the last bucket


def test_inferred_vectors_find_their_line_from_a_shortened_copy(lyric_lines: list[str]) -> None:
    """Paragraph vectors carry the line: a line missing its first syllable retrieves the full
    line among 47 (chance 1/47) at top-1 for at least 80% of the lines (measured: 100%)."""
    enc = small(epochs=100, count_features=False, sample=0.0)
    enc.fit(lyric_lines)
    full = torch.nn.functional.normalize(torch.stack([enc.featurize(x) for x in lyric_lines]), dim=1)
    cut = torch.nn.functional.normalize(
        torch.stack([enc.featurize(" ".join(x.split()[1:])) for x in lyric_lines]), dim=1
    )
    top1 = ((cut @ full.T).argmax(dim=1) == torch.arange(len(lyric_lines))).float().mean().item()
    assert top1 >= 0.8


def test_save_load_gives_the_same_vectors_and_key(
    fitted: Doc2VecLyrics, lyric_lines: list[str], tmp_path: Path
) -> None:
    save_atomic(encoder_state(fitted), tmp_path / "lyrics.pt")
    twin = restore_encoder(load_safe(tmp_path / "lyrics.pt"), Doc2VecLyrics)
    assert twin.is_fitted and twin.feature_key() == fitted.feature_key()
    for line in [*lyric_lines, "words the model never saw", ""]:
        assert torch.equal(twin.featurize(line), fitted.featurize(line))
    extra = encoder_state(fitted)["state_dict"]["_extra_state"]["doc2vec"]
    assert set(extra) == {"version", "settings", "words", "counts", "vectors", "syn1neg"}
    assert extra["vectors"].shape == extra["syn1neg"].shape == (len(extra["words"]), 32)


def test_feature_key_follows_the_fitted_model(lyric_lines: list[str], fitted: Doc2VecLyrics) -> None:
    again = small()
    again.fit(lyric_lines)
    assert again.feature_key() == fitted.feature_key()  # one worker, seeded: fitting is reproducible
    other_seed = small(seed=1)
    other_seed.fit(lyric_lines)
    other_data = small()
    other_data.fit(lyric_lines[:-1])
    no_counts = small(count_features=False)
    no_counts.fit(lyric_lines)
    keys = {fitted.feature_key(), other_seed.feature_key(), other_data.feature_key(), no_counts.feature_key()}
    assert len(keys) == 4
    # head options do not change the features
    head_only = small(dim=8, hidden=0)
    head_only.fit(lyric_lines)
    assert head_only.feature_key() == fitted.feature_key()


_CHILD = """
import json, sys
import torch
from ugaar_kit.interfaces.state import load_safe, restore_encoder
from ugaar_kit_plugins.lyrics_doc2vec.encoder import Doc2VecLyrics
checkpoint, lines_file, out = sys.argv[1:4]
lines = json.loads(open(lines_file, encoding="utf-8").read())
loaded = restore_encoder(load_safe(checkpoint), Doc2VecLyrics)
refit = Doc2VecLyrics(loaded.options)
refit.fit(lines)
torch.save({"loaded": torch.stack([loaded.featurize(x) for x in lines]),
            "refit": torch.stack([refit.featurize(x) for x in lines]),
            "refit_digest": refit.model_digest}, out)
"""


def test_vectors_are_identical_across_processes_and_hash_seeds(
    fitted: Doc2VecLyrics, lyric_lines: list[str], tmp_path: Path
) -> None:
    """Two fresh interpreters with different PYTHONHASHSEED infer bit-identical vectors from a
    saved model, and fit bit-identical models, equal to this process's."""
    save_atomic(encoder_state(fitted), tmp_path / "lyrics.pt")
    lines_file = tmp_path / "lines.json"
    lines_file.write_text(json.dumps(lyric_lines), encoding="utf-8")
    expected = torch.stack([fitted.featurize(x) for x in lyric_lines])
    results = []
    for seed in ("1", "271828"):
        out = tmp_path / f"out-{seed}.pt"
        env = {**os.environ, "PYTHONHASHSEED": seed, "OMP_NUM_THREADS": "1"}
        subprocess.run(
            [sys.executable, "-c", _CHILD, str(tmp_path / "lyrics.pt"), str(lines_file), str(out)],
            env=env,
            check=True,
            timeout=300,
        )
        results.append(torch.load(out, weights_only=True))
    for got in results:
        assert torch.equal(got["loaded"], expected)
        assert torch.equal(got["refit"], expected)
        assert got["refit_digest"] == fitted.model_digest


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_load_item_reads_and_normalizes_utf8(tmp_path: Path) -> None:
    enc = small()
    text = "Wanna be\nstartin\u2019 somethin\u2019!\n"
    path = _write(tmp_path / "a.txt", "\ufeff".encode() + text.encode())  # with a byte-order mark
    assert enc.load_item(path) == normalize_lyrics(text)
    assert enc.load_item(path).startswith("wan na be ")


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("empty.txt", b"", "no lyrics"),
        ("blank.txt", b" \n\t\n...!\n", "no lyrics"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("latin1.txt", "caf\u00e9 au lait".encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 3)"),
    ],
)
def test_load_item_errors_name_the_file(tmp_path: Path, name: str, data: bytes, problem: str) -> None:
    path = _write(tmp_path / name, data)
    with pytest.raises(InputError) as info:
        small().load_item(path)
    assert info.value.path == str(path) and problem in info.value.problem
    assert "\n" not in str(info.value)


def test_load_item_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        small().load_item(tmp_path / "missing.txt")
