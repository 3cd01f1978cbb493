"""An embed killed with SIGKILL at any moment leaves a readable store, and re-running it ends
with exactly the store an uninterrupted run makes, without re-embedding what was committed."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ugaar_kit.inference.embedding import PAUSE_ENV, EmbedSettings, embed_paths
from ugaar_kit.inference.run import Run
from ugaar_kit.store.format import journal_dir
from ugaar_kit.store.journal import scan
from ugaar_kit.store.reader import Store
from ugaar_kit.store.tables import FileRows
from ugaar_kit.store.writer import StoreWriter
from ugaar_kit.testing.data import write_png, write_text, write_wav
from ugaar_kit.testing.parts import registry as parts_registry

CLI = ["-m", "ugaar_kit.testing.store_cli"]
"""The embed/search/store app over the kit's store parts, run as a program."""
WAIT = 60.0
"""Seconds to wait for a child to reach a moment (a hang guard, not a timing assertion)."""


def make_items(root: Path, n: int = 24) -> Path:
    for i in range(n):
        if i % 3 == 0:
            write_wav(root / f"a/{i:02d}.wav", 1.0 + (i % 5), 200 + 37 * i, seed=i)
        elif i % 3 == 1:
            write_png(root / f"s/{i:02d}.png", 40 + 9 * i, seed=i)
        else:
            write_text(root / f"l/{i:02d}.txt", f"line {i} of the song\nand another {'la ' * (i % 4 + 1)}\n")
    return root


def snapshot(path: Path) -> dict[str, dict[str, np.ndarray]]:
    with Store(path) as store:
        return {m: dict(zip(store.ids(m).tolist(), store.embeddings(m)[:])) for m in store.modalities}


def assert_same_store(path: Path, reference: dict[str, dict[str, np.ndarray]]) -> None:
    with Store(path) as store:
        assert set(store.modalities) == set(reference)
        for m in store.modalities:
            ids = store.ids(m).tolist()
            assert len(ids) == len(set(ids)), f"duplicate {m} rows"
            assert sorted(ids) == sorted(reference[m])
            emb = store.embeddings(m)[:]
            for i, key in enumerate(ids):
                np.testing.assert_allclose(emb[i], reference[m][key], atol=1e-5)
        assert not store.pending_journal


def journal_records(store: Path) -> int:
    return sum(max(0, len(scan(p)) - 1) for p in journal_dir(store).glob("*.wal"))


def revision(store: Path) -> int:
    try:
        with Store(store) as s:
            return s.revision
    except Exception:  # noqa: BLE001 - not written yet
        return -1


def _child(run_dir: str, data: str, out: str, pause: float, fold_rows: int | None) -> None:
    os.environ[PAUSE_ENV] = str(pause)
    run = Run.load(run_dir, registry=parts_registry("store"))
    embed_paths(run, [data], out, EmbedSettings(batch_size=2, fold_rows=fold_rows))
    os._exit(0)


def kill_when(
    run_dir: Path,
    data: Path,
    out: Path,
    ready: Callable[[], bool],
    pause: float,
    fold_rows: int | None = None,
    delay: float = 0.0,
    may_finish: bool = False,
) -> bool:
    """Start an embed in a forked child, SIGKILL it once `ready()`, check the store is readable.
    Returns False when the child finished first (allowed with `may_finish`)."""
    proc = multiprocessing.get_context("fork").Process(
        target=_child, args=(str(run_dir), str(data), str(out), pause, fold_rows)
    )
    proc.start()
    deadline = time.monotonic() + WAIT
    while not ready() and proc.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(delay)
    if proc.is_alive():
        os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    killed = proc.exitcode == -signal.SIGKILL
    assert killed or may_finish, "the child finished before it could be killed"
    if out.exists():
        with Store(out) as store:  # readable at once, before any recovery
            for m in store.modalities:
                assert store.embeddings(m).shape[0] == len(store.ids(m))
    return killed


@pytest.fixture
def reference(run_dir: Path, tmp_path: Path) -> tuple[Path, dict[str, dict[str, np.ndarray]]]:
    data = make_items(tmp_path / "data")
    ref = tmp_path / "ref.h5"
    embed_paths(Run.load(run_dir, registry=parts_registry("store")), [data], ref, EmbedSettings(batch_size=5))
    return data, snapshot(ref)


def test_killed_at_several_moments_then_resumed_equals_an_uninterrupted_run(run_dir, reference, tmp_path):
    data, ref = reference
    out = tmp_path / "emb.h5"
    total = sum(len({k.split("#")[0] for k in v}) for v in ref.values())
    # 1. while starting: the journal folder exists, nothing committed
    kill_when(run_dir, data, out, lambda: journal_dir(out).is_dir(), pause=0.2)
    # 2. after a few committed batches (the store itself not folded yet)
    kill_when(run_dir, data, out, lambda: journal_records(out) >= 3, pause=0.2)
    done_before = sum(len(v) for v in snapshot(out).values()) if out.exists() else 0
    # 3. in a run that folds after every batch: killed after some folds, mid-fold or mid-batch
    rev = revision(out)
    kill_when(run_dir, data, out, lambda: revision(out) >= rev + 3, pause=0.0, fold_rows=1, delay=0.003)
    # 4. again, a little later
    kill_when(run_dir, data, out, lambda: journal_records(out) >= 2, pause=0.05, fold_rows=3, delay=0.05)

    with Store(out) as store:
        assert store.pending_journal  # the killed runs left committed batches to fold
    run = Run.load(run_dir, registry=parts_registry("store"))
    summary = embed_paths(run, [data], out, EmbedSettings(batch_size=3))
    assert summary.already > 0 and summary.already + summary.files == total
    # (Whether the re-run reports "recovered N rows" depends on where the last kill landed: a
    # kill between a fold and the journal's removal leaves nothing new to recover. The store
    # being exactly the uninterrupted one, below, is what matters.)
    assert done_before == 0  # kill 2 landed before the first fold: its batches were in the journal only
    assert_same_store(out, ref)


def test_a_crash_between_the_fold_and_the_journal_removal_adds_nothing_twice(run_dir, tmp_path):
    store = tmp_path / "emb.h5"
    emb = np.arange(12, dtype=np.float32).reshape(3, 4)
    w = StoreWriter(store, run_id="r", settings={"window": 5.0, "hop": 2.5})
    w.add_files(
        "audio", [FileRows("x.wav", 10, 1.5, ["x.wav#t=0-5", "x.wav#t=2.5-7.5"], emb[:2], [0.0, 2.5], [5.0, 7.5])]
    )
    w.fold()  # folded into the store, the journal file still there: as if killed right now
    w.add_files("audio", [FileRows("y.wav", 11, 2.5, ["y.wav"], emb[2:], [0.0], [3.0])])
    w._wal.close()  # killed: no close(), the lock fd dies with the process
    w._unlock()
    with Store(store) as s:
        assert s.ids("audio").tolist() == ["x.wav#t=0-5", "x.wav#t=2.5-7.5"]
    with StoreWriter(store, run_id="r", settings={"window": 5.0, "hop": 2.5}) as again:
        assert again.notes == ["recovered 1 rows an interrupted run had committed"]
    with Store(store) as s:
        assert s.ids("audio").tolist() == ["x.wav#t=0-5", "x.wav#t=2.5-7.5", "y.wav"]
        np.testing.assert_array_equal(s.embeddings("audio")[:], emb)
        assert not s.pending_journal


def test_a_torn_journal_tail_is_ignored(tmp_path):
    store = tmp_path / "emb.h5"
    w = StoreWriter(store, run_id="r")
    w.add_files("lyrics", [FileRows("a.txt", 3, 1.0, ["a.txt"], np.ones((1, 4), np.float32), line=[1])])
    w.add_files("lyrics", [FileRows("b.txt", 3, 1.0, ["b.txt"], np.ones((1, 4), np.float32), line=[1])])
    wal = w._wal.path
    w._wal.close()
    w._unlock()
    with open(wal, "r+b") as fh:  # the last record half written
        fh.truncate(wal.stat().st_size - 7)
    with StoreWriter(store, run_id="r"):
        pass
    with Store(store) as s:
        assert s.ids("lyrics").tolist() == ["a.txt"]


def test_a_second_writer_is_refused_while_one_runs(tmp_path):
    store = tmp_path / "emb.h5"
    with StoreWriter(store, run_id="r"):
        with pytest.raises(Exception, match="another process is writing this store"):
            StoreWriter(store, run_id="r")


def test_cli_killed_in_a_subprocess_then_resumed(run_dir, reference, tmp_path, cli):
    data, ref = reference
    out = tmp_path / "cli.h5"
    env = dict(os.environ, **{PAUSE_ENV: "0.3"})
    cmd = [
        sys.executable,
        *CLI,
        "embed",
        str(data),
        "--run",
        str(run_dir),
        "--out",
        str(out),
        "--workers",
        "0",
        "--batch-size",
        "2",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + WAIT
    while journal_records(out) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()
    with Store(out) as store:
        assert len(store) == 0 and store.pending_journal
    result = cli("embed", data, "--run", run_dir, "--out", out, "--workers", 0)
    assert result.exit_code == 0, result.output
    assert "already in the store" in result.output and "recovered" in result.output
    assert_same_store(out, ref)


def _sleep_forever() -> None:
    time.sleep(WAIT)
    os._exit(0)


def test_a_forked_child_does_not_hold_the_store_lock(tmp_path):
    """A forked child (a loader worker) that outlives its writer does not keep the store locked:
    the lock is a POSIX record lock, which a fork does not inherit (a `flock` is)."""
    store = tmp_path / "emb.h5"
    w = StoreWriter(store, run_id="r")
    child = multiprocessing.get_context("fork").Process(target=_sleep_forever)
    child.start()
    try:
        w._wal.close()  # the writer dies: no close(), its lock goes with it
        w._unlock()
        with StoreWriter(store, run_id="r"):  # at once, while the child still lives
            pass
    finally:
        child.kill()
        child.join()
    assert not journal_dir(store).exists()


def test_cli_with_loader_workers_killed_then_resumed_at_once(run_dir, reference, tmp_path, cli):
    """`kill -9` of the embed process alone, its loader workers on: the workers end with it, and
    the re-run, started at once, is not refused and ends with the uninterrupted store."""
    data, ref = reference
    out = tmp_path / "cli.h5"
    env = dict(os.environ, **{PAUSE_ENV: "0.3"})
    cmd = [sys.executable, *CLI, "embed", str(data), "--run", str(run_dir), "--out", str(out)]
    cmd += ["--workers", "2", "--batch-size", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + WAIT
    while journal_records(out) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # the main process only, as the OOM killer does
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()
    result = cli("embed", data, "--run", run_dir, "--out", out, "--workers", 2)
    assert result.exit_code == 0, result.output
    assert "already in the store" in result.output
    assert_same_store(out, ref)


@pytest.mark.slow
def test_many_random_kills_never_corrupt_or_duplicate(run_dir, reference, tmp_path):
    data, ref = reference
    out = tmp_path / "emb.h5"
    rng = np.random.default_rng(0)
    landed = {"fold": 0, "other": 0, "finished": 0}
    for _ in range(60):
        start = time.monotonic()
        delay = float(rng.uniform(0.0, 0.25))
        killed = kill_when(
            run_dir,
            data,
            out,
            lambda start=start, delay=delay: time.monotonic() - start > delay,
            pause=0.0,
            fold_rows=int(rng.integers(1, 6)),
            may_finish=True,
        )
        if not killed:  # it ran to the end: start again from nothing so later kills land in work
            landed["finished"] += 1
            assert_same_store(out, ref)
            out.unlink()
            continue
        landed["fold" if (journal_dir(out) / "fold.tmp").exists() else "other"] += 1
        if out.exists():
            assert_no_duplicates(out)
    run = Run.load(run_dir, registry=parts_registry("store"))
    embed_paths(run, [data], out, EmbedSettings(batch_size=3))
    assert_same_store(out, ref)
    assert landed["fold"] > 0, landed  # some kills landed while a fold was being written
    print(landed)


def assert_no_duplicates(path: Path) -> None:
    with Store(path) as store:
        for m in store.modalities:
            ids = store.ids(m).tolist()
            assert len(ids) == len(set(ids))
