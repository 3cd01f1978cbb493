"""Retrieval metrics: a hand example, a brute-force reference with ties and groups, collapse."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ugaar_kit_plugins.baseline_counts.counts import syllable_count_baseline

from ugaar_kit.retrieval.metrics import ceiling_metrics, chance, harmonic, pooled, retrieval_metrics


def at_angles(degrees):
    rad = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    return torch.tensor(np.stack([np.cos(rad), np.sin(rad)], axis=1), dtype=torch.float32)


# Angular distances (cosine is monotone in them):
#   a0=0:   s0 10, s1 160, s2 170, s3 60   -> rank 1
#   a1=90:  s0 80, s1 110, s2 80,  s3 150  -> rank 3 (s0 and s2 closer)
#   a2=180: s0 170, s1 20, s2 10,  s3 120  -> rank 1
#   a3=270: s0 100, s1 70, s2 100, s3 30   -> rank 1
HAND = {"audio": at_angles([0, 90, 180, 270]), "sheet": at_angles([10, 200, 170, 300])}


def test_hand_example_four_items():
    got = retrieval_metrics(HAND)
    assert set(got) == {"audio->sheet", "sheet->audio"}
    a2s = got["audio->sheet"]
    assert a2s["R@1"] == pytest.approx(0.75)
    assert a2s["R@5"] == pytest.approx(1.0)
    assert a2s["MRR"] == pytest.approx((1 + 1 / 3 + 1 + 1) / 4)
    assert a2s["MedR"] == 1.0 and a2s["MeanR"] == pytest.approx(1.5)
    assert a2s["pool"] == 4 and a2s["queries"] == 4
    assert a2s["chance_MRR"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    assert a2s["chance_R@1"] == pytest.approx(0.25) and a2s["chance_R@5"] == 1.0
    # sheet->audio: s1=200 sees a2 (20) and a3 (70) before a1 (110); the rest are first
    assert got["sheet->audio"]["MRR"] == pytest.approx((3 + 1 / 3) / 4)


def test_hand_example_with_groups():
    # items 0 and 2 form one group x: its score is the better of s0, s2; the pool is 3
    got = retrieval_metrics(HAND, groups=["x", "y", "x", "z"], directions=[("audio", "sheet")])
    a2s = got["audio->sheet"]
    assert a2s["pool"] == 3
    # a1's answer y (110) now loses only to group x (80): rank 2
    assert a2s["MRR"] == pytest.approx((3 + 1 / 2) / 4)
    assert a2s["R@1"] == pytest.approx(0.75)
    assert a2s["chance_MRR"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)


def brute_force(q, c, groups, ks=(1, 5, 10), ties="worst", tol=1e-9):
    """Reference: Python loops over queries and groups, float64."""
    q = np.asarray(q, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    names = sorted(set(groups))
    ranks, recalls, rr = [], {k: [] for k in ks}, []
    for i in range(len(q)):
        group_score = {g: -math.inf for g in names}
        for j in range(len(c)):
            group_score[groups[j]] = max(group_score[groups[j]], float(q[i] @ c[j]))
        true = group_score[groups[i]]
        better = sum(1 for g, s in group_score.items() if g != groups[i] and s > true + tol)
        tied = sum(1 for g, s in group_score.items() if g != groups[i] and abs(s - true) <= tol)
        positions = [better + 1 + t for t in range(tied + 1)] if ties == "mean" else [better + tied + 1]
        ranks.append(sum(positions) / len(positions))
        rr.append(sum(1 / p for p in positions) / len(positions))
        for k in ks:
            recalls[k].append(sum(p <= k for p in positions) / len(positions))
    out = {f"R@{k}": float(np.mean(recalls[k])) for k in ks}
    out.update(MRR=float(np.mean(rr)), MedR=float(np.median(ranks)), MeanR=float(np.mean(ranks)), pool=len(names))
    return out


@pytest.mark.parametrize("ties", ["worst", "mean"])
def test_matches_brute_force_with_ties_and_groups(ties):
    rng = np.random.default_rng(7)
    n = 60
    # small integer vectors: many exact ties between candidates
    audio = rng.integers(-1, 2, size=(n, 3)).astype(np.float32)
    sheet = (audio + rng.integers(-1, 2, size=(n, 3)) * (rng.random((n, 1)) < 0.5)).astype(np.float32)
    for x in (audio, sheet):
        x[np.abs(x).sum(1) == 0] = 1  # no zero rows (their cosine is undefined)
    groups = [f"g{i}" for i in range(n)]
    for i in range(0, n, 7):  # verbatim repeats: same group, same embeddings
        groups[i + 1] = groups[i]
        audio[i + 1], sheet[i + 1] = audio[i], sheet[i]
    got = retrieval_metrics({"audio": audio, "sheet": sheet}, groups=groups, ties=ties, block_elements=50)
    other = retrieval_metrics(
        {"audio": audio, "sheet": sheet}, groups=groups, ties="mean" if ties == "worst" else "worst"
    )
    assert other["audio->sheet"]["MRR"] != pytest.approx(got["audio->sheet"]["MRR"])  # the data do tie
    for (qm, cm), (q, c) in {("audio", "sheet"): (audio, sheet), ("sheet", "audio"): (sheet, audio)}.items():
        ref = brute_force(q, c, groups, ties=ties)
        row = got[f"{qm}->{cm}"]
        assert row["pool"] == ref["pool"] == n - len(range(0, n, 7))
        for key in ("R@1", "R@5", "R@10", "MRR", "MedR", "MeanR"):
            assert row[key] == pytest.approx(ref[key], abs=1e-9), key


def test_blocks_do_not_change_results():
    torch.manual_seed(0)
    embs = {"audio": torch.randn(97, 8), "sheet": torch.randn(97, 8), "lyrics": torch.randn(97, 8)}
    groups = [str(i // 3) if i < 30 else None for i in range(97)]
    whole = retrieval_metrics(embs, groups)
    assert len(whole) == 6
    assert retrieval_metrics(embs, groups, block_elements=100) == whole


@pytest.mark.parametrize("groups", [None, [str(i % 40) for i in range(100)]])
def test_collapsed_embeddings_score_at_chance_or_worse(groups):
    const = torch.ones(100, 16)
    pool = 100 if groups is None else 40
    worst = retrieval_metrics({"audio": const, "sheet": const.clone()}, groups)["audio->sheet"]
    assert worst["MRR"] == pytest.approx(1 / pool)  # every answer ranked last
    assert worst["MRR"] < worst["chance_MRR"]
    assert worst["R@1"] == 0.0 and worst["R@10"] == 0.0 and worst["MedR"] == pool
    mean = retrieval_metrics({"audio": const, "sheet": const.clone()}, groups, ties="mean")["audio->sheet"]
    assert mean["MRR"] == pytest.approx(harmonic(pool) / pool)
    assert mean["R@10"] == pytest.approx(10 / pool)


def test_perfect_embeddings_score_one_and_chance_is_reported():
    x = torch.randn(50, 8)
    row = retrieval_metrics({"audio": x, "sheet": 3 * x})["audio->sheet"]
    assert row["MRR"] == 1.0 and row["R@1"] == 1.0 and row["MedR"] == 1.0
    assert row == {**row, **chance(50)}


def test_bad_input_is_refused():
    x = torch.randn(5, 4)
    with pytest.raises(ValueError, match="different numbers of rows"):
        retrieval_metrics({"audio": x, "sheet": x[:4]})
    with pytest.raises(ValueError, match="NaN"):
        retrieval_metrics({"audio": x, "sheet": torch.full((5, 4), float("nan"))})
    with pytest.raises(ValueError, match="no embeddings for 'lyrics'"):
        retrieval_metrics({"audio": x, "sheet": x}, directions=[("audio", "lyrics")])
    with pytest.raises(ValueError, match="groups has 3 entries"):
        retrieval_metrics({"audio": x, "sheet": x}, groups=["a", "b", "c"])


def test_syllable_count_baseline_hand_example():
    syllables = [3, 5, 5, 8]
    notes = [3, 5, 6, 8]  # item 2's melody has one note more than syllables
    got = syllable_count_baseline(syllables, notes)
    # lyrics->audio: query 2 (5 syllables) finds note count 5 (item 1) before its own 6: rank 2
    l2a = got["lyrics->audio"]
    assert l2a["MRR"] == pytest.approx((3 + 1 / 2) / 4) and l2a["R@1"] == pytest.approx(0.75)
    assert got["lyrics->sheet"] == l2a
    # audio->lyrics: query 1 (5 notes) ties syllables of items 1 and 2; query 2 (6) is 1 away from
    # both 5s: each ranks 2 when ties count against, 1.5 on average
    a2l = got["audio->lyrics"]
    assert a2l["MRR"] == pytest.approx((1 + 0.5 + 0.5 + 1) / 4)
    assert a2l["MedR"] == pytest.approx(1.5)
    assert got["sheet->lyrics"] == a2l
    mean = syllable_count_baseline(syllables, notes, ties="mean")["audio->lyrics"]
    assert mean["MRR"] == pytest.approx((1 + 0.75 + 0.75 + 1) / 4)
    assert mean["R@1"] == pytest.approx((1 + 0.5 + 0.5 + 1) / 4)


def test_syllable_count_baseline_with_groups():
    # items 0 and 1 are a repeat: one candidate; item 2 shares the count 4 with the group
    got = syllable_count_baseline([4, 4, 4, 9], [4, 4, 4, 9], groups=["a", "a", "b", "c"])["lyrics->audio"]
    assert got["pool"] == 3
    assert got["MRR"] == pytest.approx((0.5 + 0.5 + 0.5 + 1) / 4)


def test_pooled_draws_fixed_size_pools():
    torch.manual_seed(1)
    n = 120
    latent = torch.randn(n, 6)
    embs = {"audio": latent + 0.8 * torch.randn(n, 6), "sheet": latent + 0.8 * torch.randn(n, 6)}
    groups = [str(i // 2) for i in range(n)]  # 60 groups of two
    got = pooled(retrieval_metrics, {"embeddings": embs, "groups": groups}, pool=20, draws=8, seed=3)
    row = got["audio->sheet"]
    assert row["pool"] == 20 and row["pool_std"] == 0.0 and row["draws"] == 8
    assert row["chance_MRR"] == pytest.approx(harmonic(20) / 20)
    assert row["MRR_std"] > 0
    full = retrieval_metrics(embs, groups)["audio->sheet"]
    assert row["MRR"] > full["MRR"]  # a smaller pool is easier
    again = pooled(retrieval_metrics, {"embeddings": embs, "groups": groups}, pool=20, draws=8, seed=3)
    assert again == got
    everything = pooled(retrieval_metrics, {"embeddings": embs, "groups": groups}, pool=60, draws=2)
    assert everything["audio->sheet"]["MRR"] == pytest.approx(full["MRR"])
    assert everything["audio->sheet"]["MRR_std"] == pytest.approx(0.0)


def test_pooled_baseline_and_limits():
    syl = [i % 7 + 1 for i in range(70)]
    got = pooled(syllable_count_baseline, {"syllables": syl, "notes": syl}, pool=30, draws=4, ties="mean")
    assert got["lyrics->audio"]["pool"] == 30
    assert got["lyrics->audio"]["MRR"] > 2 * got["lyrics->audio"]["chance_MRR"]
    with pytest.raises(ValueError, match="larger than the 70 candidates"):
        pooled(syllable_count_baseline, {"syllables": syl, "notes": syl}, pool=71)


def test_ceiling_counts_identical_content_against_the_model():
    keys = {"audio": ["a", "a", "b", "c"], "lyrics": ["x", "y", "y", None]}
    rows = ceiling_metrics(keys)
    # audio items 0 and 1 are identical: a perfect model ties them, rank 2 for both
    assert rows["lyrics->audio"]["MRR"] == pytest.approx((0.5 + 0.5 + 1 + 1) / 4)
    assert rows["audio->lyrics"]["MRR"] == pytest.approx((1 + 0.5 + 0.5 + 1) / 4)  # None is unlike all
    assert rows["lyrics->audio"]["R@1"] == pytest.approx(0.5)
    # verbatim repeats merged into one candidate are one answer, not a tie
    grouped = ceiling_metrics(keys, groups=["g", "g", None, None], directions=[("lyrics", "audio")])
    assert grouped["lyrics->audio"]["MRR"] == 1.0 and grouped["lyrics->audio"]["pool"] == 3
    assert ceiling_metrics({"audio": [1, 2, 3], "sheet": [1, 2, 3]})["audio->sheet"]["MRR"] == 1.0


def test_ceiling_bounds_every_model():
    rng = torch.Generator().manual_seed(0)
    content = torch.randint(0, 6, (40,), generator=rng)
    table = torch.randn(6, 4, generator=rng, dtype=torch.float64)  # any model sees the content alone
    model = retrieval_metrics({"audio": table[content], "sheet": table[content]})["audio->sheet"]["MRR"]
    ceiling = ceiling_metrics({"audio": content.tolist(), "sheet": content.tolist()})["audio->sheet"]["MRR"]
    assert model <= ceiling + 1e-12 < 1.0
