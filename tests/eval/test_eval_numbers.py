"""`eval` figures against a brute-force computation: per-item embeddings, Python loops over
cosine similarities, verbatim repeats merged; the baseline by hand; pools redrawn by hand."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch

from ugaar_kit.inference.run import Run
from ugaar_kit.interfaces.dataset import DatasetFolder, Item
from ugaar_kit.retrieval.evaluation import directions_of, evaluate, query_ranks

SIX = ["audio->sheet", "sheet->audio", "audio->lyrics", "lyrics->audio", "sheet->lyrics", "lyrics->sheet"]
KEYS = {"R@1", "R@5", "R@10", "MRR", "MedR", "pool", "chance_MRR"}
LYRICS_DIRECTIONS = {"audio->lyrics", "lyrics->audio", "sheet->lyrics", "lyrics->sheet"}


def split_items(data: Path) -> list[Item]:
    return DatasetFolder(data).split("test")


def one_by_one(run_dir: Path, registry, items: list[Item]) -> dict[str, np.ndarray]:
    """Each item's shared-space embedding, encoded alone (no batching), float64."""
    run = Run.load(run_dir, registry)
    out = {}
    for m, enc in run.encoders.items():
        rows = []
        for it in items:
            raw = it.lyrics if m == "lyrics" else enc.load_item(getattr(it, m))
            rows.append(run.objective.project(m, enc.encode([raw])).detach().double().numpy()[0])
        out[m] = np.stack(rows)
    return out


def brute_force(q: np.ndarray, c: np.ndarray, keys: list[str], tol: float = 1e-6) -> dict[str, float]:
    """Rank of each query's own group among groups scored by their best member; ties count against."""
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    c = c / np.linalg.norm(c, axis=1, keepdims=True)
    ranks = []
    for i in range(len(q)):
        best: dict[str, float] = {}
        for j in range(len(c)):
            s = float(sum(a * b for a, b in zip(q[i], c[j])))
            best[keys[j]] = max(best.get(keys[j], -math.inf), s)
        answer = best[keys[i]]
        ranks.append(1 + sum(1 for g, s in best.items() if g != keys[i] and s >= answer - tol))
    pool = len(set(keys))
    return {
        "R@1": sum(r <= 1 for r in ranks) / len(ranks),
        "R@5": sum(r <= 5 for r in ranks) / len(ranks),
        "R@10": sum(r <= 10 for r in ranks) / len(ranks),
        "MRR": sum(1 / r for r in ranks) / len(ranks),
        "MedR": float(statistics.median(ranks)),
        "pool": pool,
        "chance_MRR": sum(1 / k for k in range(1, pool + 1)) / pool,
    }


def brute_force_counts(q: list[int], c: list[int], keys: list[str]) -> dict[str, float]:
    """Groups scored by -|count difference| (best member); ties broken uniformly at random, as
    expectations: the answer's rank is uniform over b+1 .. b+t+1."""
    rr, hits, mean_ranks = [], {1: [], 5: [], 10: []}, []
    for i in range(len(q)):
        best: dict[str, float] = {}
        for j in range(len(c)):
            best[keys[j]] = max(best.get(keys[j], -math.inf), -abs(q[i] - c[j]))
        answer = best[keys[i]]
        b = sum(1 for g, s in best.items() if g != keys[i] and s > answer)
        t = sum(1 for g, s in best.items() if g != keys[i] and s == answer)
        positions = range(b + 1, b + t + 2)
        rr.append(sum(1 / r for r in positions) / (t + 1))
        for k in hits:
            hits[k].append(sum(r <= k for r in positions) / (t + 1))
        mean_ranks.append(b + t / 2 + 1)
    pool = len(set(keys))
    out = {f"R@{k}": sum(v) / len(v) for k, v in hits.items()}
    out.update(MRR=sum(rr) / len(rr), MedR=float(statistics.median(mean_ranks)), pool=pool)
    out["chance_MRR"] = sum(1 / k for k in range(1, pool + 1)) / pool
    return out


def expected(run_dir: Path, registry, items: list[Item]) -> tuple[dict, dict]:
    embs = one_by_one(run_dir, registry, items)
    keys = [f"{it.song}/{it.group}" for it in items]
    model = {}
    for d in SIX:
        q, c = d.split("->")
        if q in embs and c in embs:
            model[d] = brute_force(embs[q], embs[c], keys)
    syl = [len(it.lyrics.split()) for it in items]
    notes = [len(it.meta["notes"]) for it in items]
    base = {}
    if "lyrics" in embs:
        for other in ("audio", "sheet"):
            base[f"lyrics->{other}"] = brute_force_counts(syl, notes, keys)
            base[f"{other}->lyrics"] = brute_force_counts(notes, syl, keys)
    return model, base


def brute_force_ceiling(items: list[Item], candidate: str) -> float:
    """1 / (1 + other groups whose `candidate` content equals the answer's), averaged over items."""
    from ugaar_kit.retrieval.evaluation import content_key

    groups = [f"{it.song}/{it.group}" for it in items]
    content = [content_key(it, candidate) for it in items]
    total = 0.0
    for i in range(len(items)):
        same = {groups[j] for j in range(len(items)) if groups[j] != groups[i] and content[j] == content[i]}
        total += 1.0 / (1 + len(same)) if content[i] is not None else 1.0
    return total / len(items)


def assert_rows_equal(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for d, row in want.items():
        assert set(got[d]) - {"ceiling_MRR"} == KEYS, d
        for k, v in row.items():
            assert got[d][k] == pytest.approx(v, abs=1e-9), f"{d} {k}"


def test_json_equals_brute_force_three_modalities(invoke, run3, songs, registry):
    result = invoke(run3, "--data", songs, "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert set(got) == {"directions", "baselines", "run", "split", "items"}
    assert (got["run"], got["split"], got["items"]) == ("evalrun-1", "test", 46)

    model, base = expected(run3, registry, split_items(songs))
    assert list(got["directions"]) == SIX
    assert_rows_equal(got["directions"], model)
    # 46 passages, 4 of them verbatim repeats: 42 candidates in every direction
    assert {row["pool"] for row in got["directions"].values()} == {42}
    # the numbers are not degenerate: an untrained model ranks somewhere between first and last
    assert 0.02 < got["directions"]["audio->sheet"]["MRR"] < 0.9

    # the ceiling: every other candidate group with the answer's content ties with it, counted against
    for d, row in got["directions"].items():
        assert row["ceiling_MRR"] == pytest.approx(brute_force_ceiling(split_items(songs), d.split("->")[1]), abs=1e-12)
        assert row["MRR"] <= row["ceiling_MRR"] <= 1.0

    assert set(got["baselines"]) == {"syllable_count", "onset_count"}
    assert set(got["baselines"]["syllable_count"]) == LYRICS_DIRECTIONS
    # the onset counter: audio directions only, ranking by |onsets counted in the audio - syllables|
    assert set(got["baselines"]["onset_count"]) == {"audio->lyrics", "lyrics->audio"}
    items = split_items(songs)
    from ugaar_kit_plugins.baseline_counts.counts import lyric_syllables

    from ugaar_kit.toolkit.onsets import count_file_onsets

    onsets = count_file_onsets([it.audio for it in items])
    syllables = [lyric_syllables(it) for it in items]
    keys = [f"{it.song}/{it.group}" for it in items]
    assert got["baselines"]["onset_count"]["lyrics->audio"]["MRR"] == pytest.approx(
        brute_force_counts(syllables, onsets, keys)["MRR"], abs=1e-12
    )
    assert_rows_equal(got["baselines"]["syllable_count"], {d: base[d] for d in got["baselines"]["syllable_count"]})
    # the count cue beats chance on these songs (lyrics are within one syllable of the notes)
    lyr = got["baselines"]["syllable_count"]["lyrics->audio"]
    assert lyr["MRR"] > 1.5 * lyr["chance_MRR"]


def test_plotted_ranks_give_the_reported_figures(run3, songs, registry):
    items = split_items(songs)
    embs = {m: torch.from_numpy(e).float() for m, e in one_by_one(run3, registry, items).items()}
    keys = [f"{it.song}/{it.group}" for it in items]
    pairs = directions_of(list(embs))
    ranks = query_ranks(embs, keys, pairs)
    model, _ = expected(run3, registry, items)
    for d, r in ranks.items():
        assert r.shape == (46,) and r.min() >= 1 and r.max() <= 42
        assert float(np.mean(1.0 / r)) == pytest.approx(model[d]["MRR"], abs=1e-9)
        assert float(np.median(r)) == model[d]["MedR"]


def test_two_modality_run_has_two_directions_and_no_baseline(invoke, run2, songs, registry):
    result = invoke(run2, "--data", songs, "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    model, _ = expected(run2, registry, split_items(songs))
    assert_rows_equal(got["directions"], model)
    assert list(got["directions"]) == ["audio->sheet", "sheet->audio"]
    assert got["baselines"] == {}


def draw_pools(keys: list[str], pool: int, draws: int, seed: int) -> list[list[int]]:
    """The item indices of each random pool: whole groups, drawn as `metrics.pooled` draws them
    (numpy default_rng(seed), groups numbered in order of first appearance)."""
    order = list(dict.fromkeys(keys))
    rng = np.random.default_rng(seed)
    pools = []
    for _ in range(draws):
        chosen = {order[g] for g in rng.choice(len(order), size=pool, replace=False)}
        pools.append([i for i, k in enumerate(keys) if k in chosen])
    return pools


def test_pools_hold_n_candidates_and_match_brute_force_on_the_same_pools(invoke, run3, songs, registry):
    result = invoke(run3, "--data", songs, "--json", "--pool", 20, "--draws", 4, "--seed", 7)
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    items = split_items(songs)
    embs = one_by_one(run3, registry, items)
    keys = [f"{it.song}/{it.group}" for it in items]
    syl = [len(it.lyrics.split()) for it in items]
    notes = [len(it.meta["notes"]) for it in items]
    pools = draw_pools(keys, 20, 4, 7)
    stds = []
    for section, rows in (("model", got["directions"]), ("baseline", got["baselines"]["syllable_count"])):
        for d, row in rows.items():
            assert row["pool"] == 20, d
            extra = {"ceiling_MRR"} if section == "model" else set()
            assert set(row) == KEYS | extra | {f"{k}_std" for k in ("R@1", "R@5", "R@10", "MRR", "MedR")}
            assert row["chance_MRR"] == pytest.approx(sum(1 / k for k in range(1, 21)) / 20)
            q, c = d.split("->")
            per_pool = []
            for idx in pools:
                sub = [keys[i] for i in idx]
                if section == "model":
                    per_pool.append(brute_force(embs[q][idx], embs[c][idx], sub))
                else:
                    counts = {"lyrics": syl, "audio": notes, "sheet": notes}
                    per_pool.append(brute_force_counts([counts[q][i] for i in idx], [counts[c][i] for i in idx], sub))
            for k in ("R@1", "R@5", "R@10", "MRR", "MedR"):
                values = [p[k] for p in per_pool]
                assert row[k] == pytest.approx(np.mean(values), abs=1e-9), f"{section} {d} {k}"
                assert row[f"{k}_std"] == pytest.approx(np.std(values, ddof=1), abs=1e-9), f"{section} {d} {k}_std"
            stds.append(row["MRR_std"])
    assert max(stds) > 0.005  # the spread over pools is reported, not zero


def test_pools_follow_the_seed(invoke, run2, songs):
    def mrr(*extra):
        result = invoke(run2, "--data", songs, "--json", "--pool", 10, *extra)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["directions"]["audio->sheet"]

    assert mrr("--seed", 1) == mrr("--seed", 1)
    assert mrr("--seed", 1)["MRR"] != mrr("--seed", 2)["MRR"]
    one = mrr("--draws", 1)
    assert one["MRR_std"] == 0.0 and one["pool"] == 10


def test_python_function_returns_the_json_dict(invoke, run3, songs, registry):
    run = Run.load(run3, registry)
    got = evaluate(run, songs, pool=15, draws=3, seed=4)
    result = invoke(run3, "--data", songs, "--json", "--pool", 15, "--draws", 3, "--seed", 4)
    assert json.loads(result.stdout) == got
    # a run folder works in place of a loaded Run
    assert evaluate(run3, songs, registry=registry) == json.loads(invoke(run3, "--data", songs, "--json").stdout)


def test_manifest_without_note_counts_leaves_the_baseline_out(run3, songs, registry, tmp_path):
    import shutil

    data = Path(shutil.copytree(songs, tmp_path / "songs"))
    rows = [json.loads(line) for line in (data / "manifest.jsonl").read_text().splitlines()]
    for r in rows[:3]:
        del r["notes"]
    (data / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    notes: list[str] = []
    got = evaluate(run3, data, registry=registry, say=notes.append)
    assert set(got["baselines"]) == {"onset_count"}  # it counts in the audio, not the manifest
    assert len(got["directions"]) == 6
    assert any("3 of 46 items have no note count" in n for n in notes)


def test_syllable_counts_from_the_manifest_win_over_the_text(run3, songs, registry, tmp_path):
    import shutil

    data = Path(shutil.copytree(songs, tmp_path / "songs"))
    rows = [json.loads(line) for line in (data / "manifest.jsonl").read_text().splitlines()]
    for r in rows:  # syllables given exactly as many as notes: lyrics->audio ranks by a perfect cue
        r["syllables"] = len(r["notes"])
    (data / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    perfect = evaluate(run3, data, registry=registry)["baselines"]["syllable_count"]["lyrics->audio"]
    from_text = evaluate(run3, songs, registry=registry)["baselines"]["syllable_count"]["lyrics->audio"]
    items = DatasetFolder(data).split("test")
    keys = [f"{it.song}/{it.group}" for it in items]
    counts = [len(it.meta["notes"]) for it in items]
    assert perfect["MRR"] == pytest.approx(brute_force_counts(counts, counts, keys)["MRR"], abs=1e-12)
    assert perfect["MRR"] > from_text["MRR"]
