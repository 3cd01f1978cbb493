"""Length-bucketed batches: deterministic by seed, complete, little padding, sharded by rank."""

from __future__ import annotations

import numpy as np
import pytest

from ugaar_kit.training.loader import bucket_batches, eval_batches, music_keys, shard, song_runs


@pytest.fixture
def lengths() -> list[int]:
    rng = np.random.default_rng(1)
    return rng.lognormal(5, 0.6, size=1000).astype(int).tolist()  # like audio frames: median ~150, long tail


def padding_fraction(batches, lengths) -> float:
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    return 1 - sum(lengths[i] for b in batches for i in b) / padded


def test_batches_are_deterministic_and_change_by_epoch(lengths):
    a = bucket_batches(lengths, 16, seed=0, epoch=0)
    assert a == bucket_batches(lengths, 16, seed=0, epoch=0)
    assert a != bucket_batches(lengths, 16, seed=0, epoch=1)
    assert a != bucket_batches(lengths, 16, seed=1, epoch=0)


def test_every_item_once_and_full_batches(lengths):
    batches = bucket_batches(lengths, 16, seed=0, epoch=3)
    flat = [i for b in batches for i in b]
    assert len(flat) == len(set(flat)) == 1000 - 1000 % 16
    assert all(len(b) == 16 for b in batches)
    short = bucket_batches(lengths, 16, seed=0, epoch=3, drop_last=False)
    assert sorted(i for b in short for i in b) == list(range(1000))


def test_bucketing_pads_far_less_than_random_batches(lengths):
    bucketed = padding_fraction(bucket_batches(lengths, 16, seed=0, epoch=0), lengths)
    rng = np.random.default_rng(0)
    order = rng.permutation(1000)
    random_batches = [order[i : i + 16].tolist() for i in range(0, 992, 16)]
    shuffled = padding_fraction(random_batches, lengths)
    assert bucketed < 0.2 and bucketed < shuffled / 3, (bucketed, shuffled)  # measured: 0.14 vs 0.63


def test_song_runs_put_several_items_of_a_song_in_each_batch(lengths):
    """`--song-run 8`: batches are made of runs of 8 items of one song (a song's passages are one
    another's negatives), every item still once an epoch, deterministic, and padded less than
    random batches (runs sorted by length within pools)."""
    songs = [f"song{i // 25}" for i in range(1000)]  # 40 songs of 25 items
    batches = bucket_batches(lengths, 32, seed=0, epoch=0, drop_last=False, songs=songs, song_run=8)
    assert batches == bucket_batches(lengths, 32, seed=0, epoch=0, drop_last=False, songs=songs, song_run=8)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    # most items share their batch with at least 7 items of their song; at random, about 0.8
    mates = [sum(songs[j] == songs[i] for j in b) - 1 for b in batches for i in b]
    assert np.mean(mates) >= 6
    random = bucket_batches(lengths, 32, seed=0, epoch=0, drop_last=False)
    assert np.mean([sum(songs[j] == songs[i] for j in b) - 1 for b in random for i in b]) < 2
    rng = np.random.default_rng(0)
    shuffled = [rng.permutation(1000)[k : k + 32].tolist() for k in range(0, 1000, 32)]
    assert padding_fraction(batches, lengths) < padding_fraction(shuffled, lengths)
    # an item never shares its run with an item of the same music (a passage's windows, a repeat)
    keys = [f"song{i // 25}/{i % 5}" for i in range(1000)]  # 5 items of each music
    runs = song_runs(range(1000), np.asarray(lengths, float), songs, keys, 4, np.random.default_rng(0))
    assert sorted(i for r in runs for i in r) == list(range(1000))
    assert all(len(r) <= 4 and len({keys[i] for i in r}) == len(r) and len({songs[i] for i in r}) == 1 for r in runs)
    # without songs, or with runs of one, the batches are the usual ones
    assert bucket_batches(lengths, 32, seed=0, epoch=0, song_run=8) == bucket_batches(lengths, 32, seed=0, epoch=0)
    assert bucket_batches(lengths, 32, seed=0, epoch=0, songs=songs, song_run=1) == bucket_batches(
        lengths, 32, seed=0, epoch=0
    )


def test_music_keys_join_a_passage_its_windows_and_its_repeats():
    from ugaar_kit.interfaces.dataset import Item

    items = [
        Item("a", "s", group="g1"),
        Item("b", "s", group="g1"),  # sung twice to the same notes
        Item("c", "s"),
        Item("c-w1", "s", meta={"window_of": "c"}),
        Item("a-p1", "s", meta={"window_of": "a"}),
        Item("c", "t"),  # another song's own passage
    ]
    assert music_keys(items) == ["s/g1", "s/g1", "c", "c", "s/g1", "c"]


def test_shards_split_a_global_batch_in_rank_order():
    batch = list(range(100, 108))
    parts = [shard(batch, r, 4) for r in range(4)]
    assert parts == [[100, 101], [102, 103], [104, 105], [106, 107]]


def test_eval_batches_cover_all_items_sorted_by_length():
    lengths = [5, 1, 9, 3, 7]
    batches = eval_batches(lengths, 2)
    assert batches == [[1, 3], [0, 4], [2]]


class _Needs:
    def __init__(self, min_batch: int) -> None:
        self.min_batch = min_batch


def test_auto_batch_size_meets_the_objectives_minimum() -> None:
    from ugaar_kit.training.assemble import DEFAULT_BATCH, auto_batch_size

    assert auto_batch_size(_Needs(2)) == DEFAULT_BATCH == 64  # contrastive and the like
    assert auto_batch_size(_Needs(33)) == 64  # dcca on 32-wide views: 64 already suffices
    assert auto_batch_size(_Needs(129)) == 256  # dcca/ugaar on the default 128-wide encoders
    assert auto_batch_size(_Needs(129), world=4) == 64  # 4 processes x 64 rows = 256 a step
    assert auto_batch_size(_Needs(100)) == 256  # twice the widest view (99), up to a power of two


def test_a_build_with_page_windows_trains_on_runs_of_two_a_song_unless_told():
    """`song_run` not given: runs of `PAGE_SONG_RUN` when the training items include windows of
    score pages (a `--whole-songs` build), items at random otherwise; a given value is kept."""
    from ugaar_kit.interfaces.dataset import Item
    from ugaar_kit.training.loader import PAGE_SONG_RUN, song_run_for

    passages = [Item(f"p{i}", f"s{i % 3}") for i in range(6)]
    windows = [Item(f"w{i}", "s0", meta={"page_window": [1, 1, 0, 100], "window_of": "p0"}) for i in range(2)]
    assert PAGE_SONG_RUN == 2
    assert song_run_for(None, passages + windows) == 2
    assert song_run_for(None, passages) == 0
    assert song_run_for(0, passages + windows) == 0 and song_run_for(8, passages) == 8
