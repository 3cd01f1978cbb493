"""How `embed` batches rows for speed and flat memory (issue 20): padded to a few lengths an
octave, sorted by length, freed memory handed back; none of it changes an embedding or the store."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from ugaar_kit.features.encode import evaluating, forward
from ugaar_kit.inference.embedding import EmbedSettings, embed_paths
from ugaar_kit.infra import memory
from ugaar_kit.interfaces.encoder import bucket_length, pad_last, padding_buckets
from ugaar_kit.store.reader import Store
from ugaar_kit.testing import parts


@pytest.mark.parametrize("n", [1, 7, 15, 16, 17, 100, 216, 500, 513, 1000, 4097])
def test_bucket_lengths_cover_and_stay_within_an_eighth(n):
    b = bucket_length(n)
    assert n <= b <= max(n + 1, int(n * 1.125) + 1)
    assert bucket_length(n, 8) % 8 == 0 and bucket_length(n, 8) >= n
    assert len({bucket_length(m) for m in range(513, 1025)}) == 8  # eight lengths an octave


def test_padding_buckets_change_no_embedding_of_a_masked_encoder():
    enc = parts.TinyAudio().eval()
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(16, n, generator=g) for n in (37, 90, 101, 150)]
    assert pad_last(feats).data.shape[-1] == 150
    with padding_buckets():
        assert pad_last(feats).data.shape[-1] == bucket_length(150) == 160
    with evaluating(enc):
        bucketed = forward(enc, feats, "cpu")
        alone = torch.cat([enc(enc.collate([f])) for f in feats])
    torch.testing.assert_close(bucketed, alone, atol=1e-5, rtol=1e-5)


def test_rows_sorted_by_length_give_the_store_of_rows_in_arrival_order(run, folder, tmp_path, monkeypatch):
    import ugaar_kit.inference.embedding.pipeline as pipeline

    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    monkeypatch.setattr(pipeline, "SORT_BATCHES", 10**6)  # sorted only at the end
    embed_paths(run, [folder], a, EmbedSettings(batch_size=4, workers=0))
    monkeypatch.setattr(pipeline, "SORT_BATCHES", 1)  # sorted in every window
    embed_paths(run, [folder], b, EmbedSettings(batch_size=4, workers=0))
    with Store(a) as sa, Store(b) as sb:
        for m in sa.modalities:
            assert sa.ids(m).tolist() == sb.ids(m).tolist()
            np.testing.assert_allclose(sa.embeddings(m)[:], sb.embeddings(m)[:], atol=1e-5)


def test_a_trimmer_hands_freed_memory_back_only_past_its_slack(monkeypatch):
    rss = iter([100, 150, 400, 90])
    trims = []
    monkeypatch.setattr(memory, "resident_bytes", lambda: next(rss))
    monkeypatch.setattr(memory, "trim", lambda: trims.append(1) or True)
    t = memory.Trimmer(slack=200)  # created at 100: limit 300
    t()  # 150
    assert trims == []
    t()  # 400
    assert trims == [1] and t.trims == 1
    t()  # 90
    assert t.trims == 1


def test_resident_memory_is_read_from_proc():
    # in a fresh process: in this one, freed but still resident heap pages could hold the block
    code = (
        "import numpy as np; from ugaar_kit.infra.memory import resident_bytes; before = resident_bytes(); "
        "block = np.ones(64 << 20, dtype=np.uint8); print(resident_bytes() - before, before)"
    )
    grown, before = map(
        int, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert before > 0 and grown >= 48 << 20  # 64 MiB touched


def test_the_batch_that_pads_least_is_chosen_and_a_rare_length_waits():
    from ugaar_kit.inference.embedding.pipeline import _least_padding

    padded = [1000, 400, 390, 380, 370, 100, 90]
    assert _least_padding(padded, 3) == 1  # 400, 390, 380: the 1000 waits for its like
    assert _least_padding(padded, 2) in (1, 2, 3)  # any neighbours of the 400s, not the 1000
    assert _least_padding(padded[:3], 3) == 0  # fewer than a batch: all of them


def test_every_worker_gets_a_share_of_every_modality_and_files_keep_their_order():
    from ugaar_kit.inference.embedding.pipeline import _interleaved

    files = {"audio": [f"a{i}" for i in range(9)], "sheet": [f"s{i}" for i in range(4)]}
    tasks = _interleaved(files, 2)
    assert sorted(found for _, _, found in tasks) == sorted(files["audio"] + files["sheet"])
    assert all(files[m][i] == found for m, i, found in tasks)
    assert [i for m, i, _ in tasks if m == "audio"] == list(range(9))
    for worker in range(2):  # task k runs in worker k % 2
        assert {m for m, _, _ in tasks[worker::2]} == {"audio", "sheet"}


def test_a_batch_of_wide_rows_holds_fewer_of_them_and_the_store_is_the_same(run, tmp_path, monkeypatch):
    """Sheet snippets 40 to 800 px wide: no batch holds more than `batch_size` rows of the usual
    (median) width; the widest go in smaller batches; every embedding as one at a time."""
    import ugaar_kit.inference.embedding.pipeline as pipeline
    from ugaar_kit.testing.data import write_png

    widths = [40 + 10 * (i % 9) for i in range(60)] + [800, 760, 720, 700]
    for i, w in enumerate(widths):
        write_png(tmp_path / "imgs" / f"{i:03d}.png", w, seed=i)
    shapes = []
    real = pipeline.forward

    def recording(encoder, feats, *args, **kwargs):
        shapes.append((len(feats), max(int(f.shape[-1]) for f in feats)))
        return real(encoder, feats, *args, **kwargs)

    monkeypatch.setattr(pipeline, "forward", recording)
    embed_paths(run, [tmp_path / "imgs"], tmp_path / "a.h5", EmbedSettings(batch_size=8, workers=0))
    assert sum(n for n, _ in shapes) == len(widths)
    usual = sorted(bucket_length(w) for _, w in shapes)[len(shapes) // 2]
    widest = max(shapes, key=lambda s: s[1])
    assert widest[0] < 8  # the widest rows go in a smaller batch
    assert all(n * bucket_length(w) <= 8 * 2 * usual or n == 1 for n, w in shapes)
    embed_paths(run, [tmp_path / "imgs"], tmp_path / "b.h5", EmbedSettings(batch_size=1, workers=0))
    with Store(tmp_path / "a.h5") as sa, Store(tmp_path / "b.h5") as sb:
        assert sa.ids("sheet").tolist() == sb.ids("sheet").tolist()
        np.testing.assert_allclose(sa.embeddings("sheet")[:], sb.embeddings("sheet")[:], atol=1e-5)


def test_a_strict_embed_stopped_by_a_bad_file_leaves_gradients_on(run, folder, tmp_path):
    """The in-process loader held `no_grad` open across its `yield`: dropped unfinished by the
    error, it was closed later and turned gradients off for what the process did next (a
    training test after this one failed at `backward`)."""
    import gc

    from ugaar_kit.errors import InputError

    with pytest.raises(InputError):
        embed_paths(run, [folder / "scores"], tmp_path / "a.h5", EmbedSettings(workers=0, strict=True))
    gc.collect()
    assert torch.is_grad_enabled()
    x = torch.ones(2, requires_grad=True)
    (x * 2).sum().backward()
    assert x.grad is not None
