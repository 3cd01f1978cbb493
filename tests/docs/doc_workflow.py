"""What the tests do with each command the documentation shows, and the runner that does it.

`PLAN` maps every shell command of README.md and docs/*.md (as `doc_commands` gives its text) to
either `Execute` (run it in a scratch workspace, with paths substituted and, in CI, flags that
make it small) or `ParseOnly` (with the reason it is not run). A command missing from `PLAN`, or
an entry no page shows any more, fails tests/docs/test_doc_pages.py, so a new command in the docs
must be classified here.

The workspace is laid out so the commands run as written: the current folder holds `scores/`
(MusicXML songs of music21's corpus), `lmd-lyrics-melody/` (a few songs of the shared LMD
sample) and `query.wav`; `~` is `home/` inside it, with `music/`, `scores/` and `lyrics/` taken
from a built dataset, and `/music` is `music/`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doc_cli_checks import builtin_registry
from doc_commands import REPO, DocCommand
from typer.testing import CliRunner

from ugaar_kit.cli.app import build_app

# -- CI sizes ------------------------------------------------------------------------------
# Narrow encoders and one short epoch: a training run of the small datasets takes seconds.
AUDIO = ("-o", "audio.channels=4,4,4,4", "-o", "audio.hidden=0", "-o", "audio.dim=8")
SHEET = ("-o", "sheet.channels=4,4,4,4", "-o", "sheet.hidden=0", "-o", "sheet.dim=8")
LYRICS = (
    *("-o", "lyrics.vector_size=8", "-o", "lyrics.epochs=2", "-o", "lyrics.min_count=1"),
    *("-o", "lyrics.hidden=0", "-o", "lyrics.dim=8"),
)
EPOCH = ("--epochs", "1", "--batch-size", "16", "--workers", "0")
# Five LMD songs or four MusicXML songs: split so that valid and test each get a song.
LMD_SPLIT = ("--split", "0.6,0.2,0.2", "--workers", "1", "--quiet")
MUSICXML_SPLIT = ("--split", "0.5,0.25,0.25", "--workers", "1", "--quiet")
# Songs of the shared LMD sample with few lyric lines (11 to 17), and MusicXML songs with lyrics
# from the demo's list (music21's corpus, public domain).
LMD_SONGS = (
    "06adfabf8eb57b36c534f51a59c0993a",
    "004ab2763c2055cee741cb2aa9724def",
    "0dbd344c590de3fa67cd2e6d2709e9b4",
    "07104c717749d890c3e947134b5714ae",
    "01f45df72d180d0b2ca2271d92b5216e",
)
# The slow variant trains at the documented batch size (256), which needs more training items:
# 18 more songs (26 to 34 lines each), about 370 training passages.
LMD_SONGS_SLOW = (
    "02ff3d966ecab5c5697059520a4fad38",
    "0349492f20980ad613c410edd97b536e",
    "0ea61318c7ad630f564e86330254ae75",
    "07fd49bab895399a6df02d2638c374bc",
    "09419222ab343baaddda4dc678a4a889",
    "0a1351c0d893782fa7a6b16e43e391b2",
    "04d160e68c33322fd26a8b483cf36580",
    "085577b816e55f43c4b482e0fd743b48",
    "0a1581527b5db68106920bcdd57bc93f",
    "0841c2d733bf97e22ec10c1c5a3f0df9",
    "08c27e91980b80b43398bf2793b6f709",
    "0ad3c31d7a910c3f1a33d6f2a9a25030",
    "0bf0f379080717ea87d6c7597c0b4aaa",
    "0e21e292b630f1f12df33ab5ed1f575e",
    "02b9ec374a3dd2142875860215be6713",
    "0e06db5e605d7baa39ad3a7ee9efcbf5",
    "08ac5287dcdcc1d5d3fc0153adafda32",
    "09052f800a907e3b6d20a0b41b1c4efd",
)
# Slow: the documented encoders and batch size, two epochs (30 epochs on 300 songs take hours:
# that is the benchmarks' job).
SLOW_EPOCHS = ("--epochs", "2", "--workers", "0")
CORPUS_SCORES = (
    "beach/prayer_of_a_tired_child.musicxml",
    "johnson_j_r/lift_every_voice.mxl",
    "liliuokalani/aloha_oe.mxl",
    "leadSheet/fosterBrownHair.mxl",
)


@dataclass(frozen=True)
class Execute:
    """Run the command. `replace`: word -> word (paths, a pool the small test split can hold);
    `extra`: words always appended (a split that gives the few songs a test split); `fast`: words
    appended in CI (small sizes), `slow` in the slow variant instead; `before`: names of workspace
    steps to run first; `exit_code` expected; `check(workspace, result)` asserts more."""

    replace: Mapping[str, str] = field(default_factory=dict)
    extra: tuple[str, ...] = ()
    fast: tuple[str, ...] = ()
    slow: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    exit_code: int = 0
    check: Callable[[Workspace, Any], None] | None = None


@dataclass(frozen=True)
class ParseOnly:
    """Not run: why. Its words are still checked against the CLI (or the script's --help)."""

    reason: str


SERVE_REASON = "serves until stopped; tests/serve/ run the same app on a free port, and tests/demo the demo's"
CURL_REASON = "a request to a running server: tests/serve/test_api.py makes the same requests through the app"


# -- checks --------------------------------------------------------------------------------
def _run_finished(out: str, epochs: int | None = None) -> Callable[[Workspace, Any], None]:
    def check(ws: Workspace, result: Any) -> None:
        info = json.loads((ws.root / out / "run.json").read_text())
        assert info["status"] == "finished", info
        assert (ws.root / out / "model.pt").is_file()
        if epochs is not None and not ws.slow:
            assert info["epochs_trained"] == epochs, info

    return check


def _results_json(ws: Workspace, result: Any) -> None:
    figures = json.loads((ws.root / "results.json").read_text())
    assert "audio->sheet" in figures["directions"] and figures["split"] == "test"
    assert figures["baselines"]["syllable_count"]  # the lyrics directions have their baseline


def _store_rows(name: str, modalities: set[str]) -> Callable[[Workspace, Any], None]:
    def check(ws: Workspace, result: Any) -> None:
        from ugaar_kit.store.reader import Store

        with Store(ws.root / name) as store:
            assert set(store.modalities) == modalities
            assert all(store.rows(m) > 0 for m in modalities)

    return check


def _merged(ws: Workspace, result: Any) -> None:
    from ugaar_kit.store.reader import Store

    rows = 0
    for k in range(1, 5):
        with Store(ws.root / f"part-{k}.h5") as part:
            rows += sum(part.rows(m) for m in part.modalities)
    with Store(ws.root / "music.h5") as merged:
        assert sum(merged.rows(m) for m in merged.modalities) == rows > 0


def _hits_jsonl(ws: Workspace, result: Any) -> None:
    """A JSON line per query (a window of each recording, the image, each lyrics line), each with
    its audio hits."""
    lines = [json.loads(line) for line in (ws.root / "hits.jsonl").read_text().splitlines()]
    queries = {line["query"] for line in lines}
    assert {"the first line", "the second line"} <= {q.removeprefix("--text ").strip("'") for q in queries}
    assert {line["query_modality"] for line in lines} == {"audio", "sheet", "lyrics"}
    assert all(line["results"]["audio"] for line in lines)


def _says(*words: str) -> Callable[[Workspace, Any], None]:
    def check(ws: Workspace, result: Any) -> None:
        for word in words:
            assert word in result.output, result.output

    return check


def _plots(ws: Workspace, result: Any) -> None:
    assert list((ws.root / "runs" / "ugaar-1" / "eval").glob("ranks_*.png"))


def _faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


# -- the plan ------------------------------------------------------------------------------
GPU_REASON = (
    "several processes or machines (torchrun); the distributed path is run with two CPU processes "
    "by tests/training/test_ddp.py"
)
PLAN: dict[str, Execute | ParseOnly] = {
    # README.md and quickstart.md: set-up
    "bash scripts/demo.sh": ParseOnly(
        "creates .venv and runs the full `ugaar-kit demo` (minutes); the demo itself is run by "
        "tests/demo/test_demo.py (a small variant in CI, the full one under the slow marker)"
    ),
    "bash scripts/test.sh": ParseOnly("it is the command that runs this test suite"),
    ". .venv/bin/activate": ParseOnly("changes the calling shell only; these tests call the app directly"),
    "git clone <this repository> ugaar-kit && cd ugaar-kit": ParseOnly("needs the network and a remote"),
    # building datasets
    "ugaar-kit dataset build scores/ --format musicxml --out data/mine": Execute(
        extra=MUSICXML_SPLIT, check=_says("passages from 4 songs")
    ),
    "ugaar-kit dataset build lmd-lyrics-melody/Sentence_Parsing --format lmd-lyrics --out data/lmd "
    "--limit-songs 300": Execute(extra=LMD_SPLIT, check=_says("passages from")),
    # training
    "ugaar-kit train --data data/mine --out runs/ugaar --audio cnn --lyrics doc2vec --objective ugaar": Execute(
        fast=(*EPOCH, *AUDIO, *SHEET, *LYRICS),
        check=_run_finished("runs/ugaar"),
    ),
    "ugaar-kit train --data data/lmd --out runs/ugaar --audio cnn --lyrics doc2vec --objective ugaar": Execute(
        fast=(*EPOCH, *AUDIO, *SHEET, *LYRICS), slow=SLOW_EPOCHS, check=_run_finished("runs/ugaar")
    ),
    "ugaar-kit train --data data/lmd --out runs/dcca --audio cnn --lyrics doc2vec --objective dcca": Execute(
        fast=(*EPOCH, *AUDIO, *LYRICS), slow=SLOW_EPOCHS, check=_run_finished("runs/dcca")
    ),
    "ugaar-kit train --data data/lmd --out runs/clip --objective contrastive": Execute(
        fast=(*EPOCH, *AUDIO, *SHEET), slow=SLOW_EPOCHS, check=_run_finished("runs/clip")
    ),
    "ugaar-kit train --data songs-ds --out runs/ugaar-1 --audio cnn --lyrics doc2vec --objective ugaar": Execute(
        replace={"songs-ds": "data/lmd"},
        fast=(*EPOCH, *AUDIO, *SHEET, *LYRICS),
        slow=SLOW_EPOCHS,
        check=_run_finished("runs/ugaar-1", epochs=1),
    ),
    "ugaar-kit train --resume runs/ugaar-1": Execute(
        fast=("--workers", "0"), slow=("--workers", "0"), check=_run_finished("runs/ugaar-1", epochs=1)
    ),
    "ugaar-kit train --resume runs/ugaar-1 --epochs 60": Execute(
        replace={"60": "3"},
        fast=("--workers", "0"),
        slow=("--workers", "0"),
        check=_run_finished("runs/ugaar-1", epochs=3),
    ),
    "ugaar-kit train --data songs-ds --out runs/as-15m --objective contrastive --max-time 15m": ParseOnly(
        "a 15-minute run; the budget's behaviour is tested in tests/training/test_budget.py with a fake clock"
    ),
    "torchrun --nproc_per_node 4 -m ugaar_kit train --data songs-ds --out runs/dcca-4gpu --objective dcca "
    "--batch-size 64": ParseOnly(GPU_REASON),
    "torchrun --nproc_per_node 4 -m ugaar_kit train --data songs-ds --out runs/ugaar-4gpu --audio cnn "
    "--lyrics doc2vec --objective ugaar --batch-size 64": ParseOnly(GPU_REASON),
    "torchrun --nnodes 2 --nproc_per_node 4 --rdzv_backend c10d --rdzv_endpoint HOST0:29500 -m ugaar_kit train "
    "--data /shared/songs-ds --out /shared/runs/ugaar-8gpu --objective ugaar": ParseOnly(GPU_REASON),
    # evaluation (a pool of 1000 needs 1000 test passages: the small test split holds a few)
    "ugaar-kit eval runs/ugaar --data data/mine --pool 1000": Execute(replace={"1000": "5"}, check=_says("MRR")),
    "ugaar-kit eval runs/ugaar --data data/lmd --split test": Execute(check=_says("audio->sheet", "MRR")),
    "ugaar-kit eval runs/ugaar --data data/lmd --pool 1000 --json > results.json": Execute(
        replace={"1000": "5"}, check=_results_json
    ),
    "ugaar-kit eval runs/ugaar-1 --data data/lmd": Execute(check=_says("audio->sheet", "MRR")),
    "ugaar-kit eval runs/ugaar-1 --data data/lmd --pool 1000 --json": Execute(
        replace={"1000": "5"}, check=_says('"directions"')
    ),
    "ugaar-kit eval runs/ugaar-1 --data data/lmd --split valid --plots runs/ugaar-1/eval": Execute(check=_plots),
    # embedding and search
    "ugaar-kit embed ~/music ~/scores --run runs/ugaar --out collection.h5": Execute(
        before=("home",), fast=("--workers", "0"), check=_store_rows("collection.h5", {"audio", "sheet"})
    ),
    "ugaar-kit embed ~/music ~/scores ~/lyrics --run runs/ugaar --out collection.h5": Execute(
        before=("home",),
        fast=("--workers", "0"),
        check=_store_rows("collection.h5", {"audio", "sheet", "lyrics"}),
    ),
    "ugaar-kit search query.wav --index collection.h5 --run runs/ugaar --target sheet": Execute(
        before=("query",), check=_says(".png")
    ),
    'ugaar-kit search --text "a mighty fortress is our god" --index collection.h5 --run runs/ugaar': Execute(
        check=_says(".flac", ".png")
    ),
    # quickstart.md: identifying pieces and locating passages (SONG: a song of the workspace)
    "ugaar-kit dataset build lmd-lyrics-melody/Sentence_Parsing --format lmd-lyrics --out pieces-ds "
    "--whole-songs": Execute(extra=LMD_SPLIT, check=_says("whole songs")),
    "ugaar-kit embed pieces-ds/sheet pieces-ds/audio pieces-ds/songs --run runs/ugaar --out pieces.h5": Execute(
        check=_says("pieces.h5")
    ),
    "ugaar-kit identify pieces-ds/songs/SONG/audio.flac --index pieces.h5 --run runs/ugaar --data pieces-ds": Execute(
        replace={"pieces-ds/songs/SONG/audio.flac": f"pieces-ds/songs/{LMD_SONGS[0]}/audio.flac"},
        check=_says("votes", "best match"),
    ),
    "ugaar-kit identify pieces-ds/songs/SONG/page-01.png --index pieces.h5 --run runs/ugaar --data pieces-ds "
    "--json": Execute(
        replace={"pieces-ds/songs/SONG/page-01.png": f"pieces-ds/songs/{LMD_SONGS[0]}/page-01.png"},
        check=_says('"query_modality": "sheet"', '"target": "audio"'),
    ),
    "ugaar-kit locate query.wav --piece SONG --index pieces.h5 --run runs/ugaar --data pieces-ds": Execute(
        before=("query",), replace={"SONG": LMD_SONGS[0]}, check=_says("passage", "page 1")
    ),
    "ugaar-kit eval runs/ugaar --data pieces-ds --task identify --task locate": Execute(
        check=_says("identify from recording", "within one system")
    ),
    "ugaar-kit plugins": Execute(check=_says("doc2vec", "ugaar", "musicxml")),
    # scaling.md: shards 3 and 4 are the elided `...` line of the page
    "ugaar-kit embed /music --run runs/ugaar --out part-1.h5 --shard 1/4": Execute(
        before=("home",), replace={"/music": "home/music"}, fast=("--workers", "0")
    ),
    "ugaar-kit embed /music --run runs/ugaar --out part-2.h5 --shard 2/4": Execute(
        replace={"/music": "home/music"}, fast=("--workers", "0")
    ),
    "ugaar-kit store merge part-1.h5 part-2.h5 part-3.h5 part-4.h5 --out music.h5": Execute(
        before=("shards 3 and 4",), check=_merged
    ),
    "ugaar-kit search queries/ --lines lines.txt --index music.h5 --run runs/ugaar --target audio --json > hits.jsonl": (
        Execute(before=("queries",), check=_hits_jsonl)
    ),
    # serve.md, quickstart.md, README.md: a server runs until stopped; tests/serve/ start one
    "ugaar-kit serve collection.h5 --run runs/ugaar": ParseOnly(SERVE_REASON),
    "ugaar-kit serve ugaar-demo/test.h5 --run ugaar-demo/runs/ugaar --data ugaar-demo/data": ParseOnly(SERVE_REASON),
    "curl -s -F file=@query.wav -F k=3 http://127.0.0.1:8000/api/search": ParseOnly(CURL_REASON),
    "curl -s -F text='Twinkle, twinkle, little star' -F target=sheet http://127.0.0.1:8000/api/search": ParseOnly(
        CURL_REASON
    ),
    "curl -s http://127.0.0.1:8000/api/items/lyrics.txt%23L12": ParseOnly(CURL_REASON),
    "pip install 'ugaar-kit[faiss]'": ParseOnly("installs packages; `store index` below runs with or without faiss"),
    "ugaar-kit store index music.h5": Execute(
        exit_code=0 if _faiss_available() else 2,
        check=None if _faiss_available() else _says("faiss is not installed: pip install 'ugaar-kit[faiss]'"),
    ),
    # benchmarks.md: the scripts run from the repository
    ".venv/bin/python benchmarks/quality.py --list": Execute(check=_says("quality cells", "state")),
    ".venv/bin/python benchmarks/quality.py": ParseOnly("trains 65 cells: days of one core"),
    ".venv/bin/python benchmarks/quality.py --only defaults": ParseOnly("12 cells of 15 minutes each: 3 hours"),
    ".venv/bin/python benchmarks/quality.py --only evidence --shard 1/2": ParseOnly(
        "trains half of the 27 evidence cells: hours"
    ),
    ".venv/bin/python benchmarks/quality.py --only evidence --shard 2/2": ParseOnly(
        "trains the other half of the evidence cells: hours"
    ),
    ".venv/bin/python benchmarks/speed.py": ParseOnly("every speed section: about an hour"),
    ".venv/bin/python benchmarks/speed.py --only search": ParseOnly(
        "searches stores of up to 10^6 rows: minutes and gigabytes"
    ),
    ".venv/bin/python benchmarks/report.py": Execute(before=("page copy",), fast=("--doc", "benchmarks-page.md")),
}

# Pages run in one workspace, in this order (evaluation.md reads the run training.md made and the
# dataset quickstart.md built; scaling.md the run and the collection of quickstart.md).
WORKFLOW_PAGES = ("docs/quickstart.md", "docs/training.md", "docs/evaluation.md", "docs/scaling.md")


# -- the workspace -------------------------------------------------------------------------
@dataclass
class Outcome:
    exit_code: int
    output: str
    stdout: str


class Workspace:
    """A scratch folder where documented commands run as written (see the module docstring)."""

    def __init__(self, root: Path, slow: bool = False) -> None:
        self.root = root
        self.home = root / "home"
        self.slow = slow
        self.log: list[str] = []

    # inputs ---------------------------------------------------------------------------------
    def add_scores(self) -> None:
        from ugaar_kit.build.demo import corpus_dir

        scores = self.root / "scores"
        scores.mkdir(parents=True, exist_ok=True)
        for rel in CORPUS_SCORES:
            shutil.copy(corpus_dir() / rel, scores / Path(rel).name)

    def add_lmd(self, lmd_dir: Path) -> None:
        folder = self.root / "lmd-lyrics-melody" / "Sentence_Parsing"
        folder.mkdir(parents=True, exist_ok=True)
        for song in LMD_SONGS + (LMD_SONGS_SLOW if self.slow else ()):
            shutil.copy(lmd_dir / "Sentence_Parsing" / f"{song}.npy", folder)
        shutil.copy(lmd_dir / "songs.json", folder.parent / "songs.json")

    def _dataset(self) -> Path:
        for name in ("data/lmd", "data/mine"):
            if (self.root / name / "manifest.jsonl").is_file():
                return self.root / name
        raise AssertionError("no dataset built yet")

    def _step(self, name: str) -> None:
        """A preparation the docs leave to the reader."""
        if name == "home" and not (self.home / "music").exists():  # ~/music, ~/scores, ~/lyrics
            rows = [json.loads(line) for line in (self._dataset() / "manifest.jsonl").read_text().splitlines()]
            rows = [r for r in rows if r["split"] == "test"][:6]
            for sub in ("music", "scores", "lyrics"):
                (self.home / sub).mkdir(parents=True)
            for r in rows:
                audio = Path(r["audio"])
                shutil.copy(self._dataset() / audio, self.home / "music" / f"{r['id']}{audio.suffix}")
                shutil.copy(self._dataset() / r["sheet"], self.home / "scores" / f"{r['id']}.png")
            text = "\n".join(r.get("lyrics_raw") or r["lyrics"] for r in rows)
            (self.home / "lyrics" / "song.txt").write_text(text + "\n", encoding="utf-8")
        elif name == "query":
            shutil.copy(next((self.home / "music").glob("*.flac")), self.root / "query.wav")  # FLAC inside
        elif name == "queries":  # a folder of query files and a file of lyrics lines
            (self.root / "queries").mkdir()
            for f in (
                sorted((self.home / "music").glob("*.flac"))[:2] + sorted((self.home / "scores").glob("*.png"))[:1]
            ):
                shutil.copy(f, self.root / "queries" / f.name)
            (self.root / "lines.txt").write_text("the first line\n\nthe second line\n", encoding="utf-8")
        elif name == "shards 3 and 4":
            for k in (3, 4):
                args = ["embed", "home/music", "--run", "runs/ugaar", "--out", f"part-{k}.h5", "--shard", f"{k}/4"]
                result = self._invoke([*args, "--workers", "0"])
                assert result.exit_code == 0, result.output
        elif name == "page copy":
            shutil.copy(REPO / "docs" / "benchmarks.md", self.root / "benchmarks-page.md")

    # running --------------------------------------------------------------------------------
    def words(self, command: DocCommand, step: Execute) -> list[str]:
        words = [step.replace.get(w, w) for w in command.argv]
        words = [str(self.home / w[2:]) if w.startswith("~/") else w for w in words]
        return [*words, *step.extra, *(step.slow if self.slow else step.fast)]

    def _invoke(self, args: list[str]) -> Outcome:
        if self.slow:  # the real console entry point, one process per command (memory is its own)
            env = {**os.environ, "HOME": str(self.home), "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
            env["UGAAR_KIT_DISABLE_PLUGIN_AUTOLOAD"] = "1"
            proc = subprocess.run(
                [sys.executable, "-m", "ugaar_kit", *args], cwd=self.root, capture_output=True, text=True, env=env
            )
            return Outcome(proc.returncode, proc.stdout + proc.stderr, proc.stdout)
        runner = CliRunner(env={"COLUMNS": "200", "HOME": str(self.home)})
        result = runner.invoke(build_app(builtin_registry()), args, prog_name="ugaar-kit")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Outcome(result.exit_code, result.output, result.stdout)

    def run(self, command: DocCommand, step: Execute) -> Outcome:
        for name in step.before:
            self._step(name)
        words = self.words(command, step)
        self.log.append(" ".join(words))
        if command.ugaar_args is not None:
            n = len(command.argv) - len(command.ugaar_args)
            outcome = self._invoke(words[n:])
        else:  # a script of the repository, run from its root
            assert words[0] == ".venv/bin/python", f"{command.where}: no way to run '{command.text}'"
            args = [sys.executable, *words[1:]]
            args = [str(self.root / a) if a == "benchmarks-page.md" else a for a in args]
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, env=env, check=False)
            outcome = Outcome(proc.returncode, proc.stdout + proc.stderr, proc.stdout)
        if command.redirect:
            (self.root / command.redirect).write_text(outcome.stdout, encoding="utf-8")
        assert outcome.exit_code == step.exit_code, f"{command.where}: {' '.join(words)}\n{outcome.output}"
        if step.check is not None:
            step.check(self, outcome)
        return outcome
