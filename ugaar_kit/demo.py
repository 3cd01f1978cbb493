"""`ugaar-kit demo`: the whole job on the bundled, redistributable demo data, in one command.

Builds the demo dataset (public-domain songs from music21's corpus), trains a three-modality
UGAAR model, a contrastive audio-sheet model on the same budget (UGAAR's reference on
audio->sheet) and the audio-lyrics deep CCA model of Yu et al., evaluates each on the test split
(every direction, with chance and the syllable-count baseline), writes an HDF5 store of the
test split's files and runs two cross-modal searches. Every step is resumable: re-running the
command skips what is done (a finished dataset, a finished run, a complete store).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from .atomic import write_text
from .dataset import DatasetFolder, Item
from .errors import UgaarError
from .registry import Registry


@dataclass(frozen=True)
class DemoPlan:
    """What the demo builds and trains; the defaults end within 7 minutes on a 2-core CPU."""

    out: Path = Path("ugaar-demo")
    limit_songs: int | None = None
    epochs: int | None = None
    """A cap on each model's epochs; None: as many as its `max_time` allows."""
    max_time: float | None = None
    """Each model's training budget in seconds; None: the model's own (`DemoModel.max_time`)."""
    batch_size: int = 64
    dim: int = 16
    seed: int = 0
    device: str = "auto"


@dataclass(frozen=True)
class DemoModel:
    """One model the demo trains: a run folder name, its components and its training budget."""

    name: str
    title: str
    components: dict[str, tuple[str, dict[str, Any]]]
    max_time: float
    """Seconds of training (`train --max-time`) on the demo's 1,460 training passages."""


def demo_models(plan: DemoPlan) -> list[DemoModel]:
    """The default encoders and recipe (strided CNN bodies, augmentation, warm-up and cosine
    decay over a wall-clock budget), `dim` wide: UGAAR at its defaults (its ground truth trained
    by InfoNCE), the contrastive audio-sheet model it is read against (the same encoders and
    budget), and the deep CCA of Yu et al., whose covariance needs more rows than dimensions
    (batch 64, width 16)."""
    # Deep CCA's covariance from the batch alone: the demo's training split is 22 batches, so
    # the running covariance (about 20 batches' memory, the default's mix) would lag a whole
    # epoch of updates (docs/methods.md).
    dcca = {"batch_weight": 1.0}
    audio = ("cnn", {"dim": plan.dim})
    sheet = ("cnn", {"dim": plan.dim})
    lyrics = ("doc2vec", {"dim": plan.dim})
    return [
        DemoModel(
            "ugaar",
            "UGAAR (audio + sheet + lyrics)",
            {"audio": audio, "sheet": sheet, "lyrics": lyrics, "objective": ("ugaar", {})},
            max_time=UGAAR_SECONDS,
        ),
        DemoModel(
            "contrastive",
            "contrastive, audio + sheet (UGAAR's reference on audio->sheet)",
            {"audio": audio, "sheet": sheet, "objective": ("contrastive", {})},
            max_time=UGAAR_SECONDS,
        ),
        DemoModel(
            "dcca",
            "Deep CCA, audio + lyrics (Yu et al.)",
            {"audio": audio, "lyrics": lyrics, "objective": ("dcca", dcca)},
            max_time=DCCA_SECONDS,
        ),
    ]


UGAAR_SECONDS = 120.0
"""UGAAR's budget, and the contrastive model's: the same, so audio->sheet compares."""
DCCA_SECONDS = 60.0
"""With the dataset build (about 30 s), caching, evaluation and the store, the demo ends within
7 minutes on 2 CPU cores (docs/quickstart.md)."""


@dataclass
class DemoResult:
    """What the demo produced: where, and the evaluation of each model."""

    out: Path
    data: Path
    runs: dict[str, Path] = field(default_factory=dict)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    store: Path | None = None
    searches: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


class Demo:
    """The demo's steps, each skipping what an earlier (interrupted) run finished."""

    def __init__(self, plan: DemoPlan, registry: Registry, console: Console | None = None) -> None:
        self.plan = plan
        self.registry = registry
        self.console = console or Console(stderr=True)
        self.out = Path(plan.out)
        self.result = DemoResult(self.out, self.out / "data")

    def _timed(self, name: str, step: Callable[[], None]) -> None:
        t0 = time.perf_counter()
        step()
        self.result.seconds[name] = round(time.perf_counter() - t0, 1)

    def run(self) -> DemoResult:
        self.out.mkdir(parents=True, exist_ok=True)
        self._timed("dataset", self.build_data)
        for model in demo_models(self.plan):
            self._timed(f"train {model.name}", functools.partial(self.train, model))
        self._timed("evaluate", self.evaluate)
        self._timed("store", self.embed_test_split)
        self._timed("search", self.search)
        (self.out / "results.json").write_text(json.dumps(self.summary_json(), indent=2) + "\n", encoding="utf-8")
        return self.result

    # -- steps ---------------------------------------------------------------------------

    def build_data(self) -> None:
        from .build.demo import build_demo

        data = self.result.data
        if (data / "dataset.json").is_file() and (data / "manifest.jsonl").is_file():
            self.console.print(f"[1/5] demo dataset: already built in {data}")
            return
        self.console.print(f"[1/5] building the demo dataset in {data} (public-domain songs from music21's corpus)")
        build_demo(data, self.registry.dataset("musicxml"), limit=self.plan.limit_songs, progress=True)

    def train(self, model: DemoModel) -> None:
        from .options import Seconds
        from .training.config import ComponentSpec, RunConfig, TrainSettings
        from .training.trainer import train

        run = self.out / "runs" / model.name
        self.result.runs[model.name] = run
        if (run / "model.pt").is_file():
            self.console.print(f"[2/5] {model.title}: already trained in {run}")
            return
        settings = TrainSettings(
            data=self.result.data,
            out=run,
            epochs=self.plan.epochs,
            max_time=Seconds(self.plan.max_time or model.max_time),
            batch_size=self.plan.batch_size,
            seed=self.plan.seed,
            device=self.plan.device,
            patience=0,
        )
        if (run / "run.json").is_file():
            settings = TrainSettings(resume=run, epochs=self.plan.epochs, device=self.plan.device)
            self.console.print(f"[2/5] {model.title}: resuming the interrupted run in {run}")
        elif run.exists():
            shutil.rmtree(run)
        components = {slot: ComponentSpec(name, dict(opts)) for slot, (name, opts) in model.components.items()}
        self.console.print(f"[2/5] training {model.title} into {run}")
        train(RunConfig(settings, components), self.registry, console=self.console)

    def evaluate(self) -> None:
        from .evaluation import evaluate

        self.console.print(f"[3/5] evaluating the {len(self.result.runs)} models on the test split")
        for name, run in self.result.runs.items():
            self.result.evaluations[name] = evaluate(
                run, self.result.data, split="test", plots=self.out / "plots" / name
            )

    def _test_items(self) -> list[Item]:
        return DatasetFolder(self.result.data).split("test")

    def embed_test_split(self) -> None:
        """Link the test split's files into one folder and embed it with the UGAAR run."""
        from .embedding import EmbedSettings, embed_paths
        from .run import Run

        folder = self.out / "test-split"
        folder.mkdir(exist_ok=True)
        items = self._test_items()
        data = self.result.data.resolve()
        for item in items:
            for path in (item.audio, item.sheet):
                if path is not None:
                    target = folder / path.resolve().relative_to(data)
                    if not target.exists():
                        target.parent.mkdir(parents=True, exist_ok=True)
                        _link_or_copy(path, target)
        lyrics = folder / "lyrics.txt"
        if not lyrics.exists():
            write_text(lyrics, "".join(f"{it.lyrics}\n" for it in items if it.lyrics))
        store = self.out / "test.h5"
        self.console.print(f"[4/5] embedding the test split ({len(items)} passages) into {store}")
        run = Run.load(self.result.runs["ugaar"])
        embed_paths(run, [folder], store, EmbedSettings())
        self.result.store = store

    def search(self) -> None:
        """One audio->sheet query and one lyrics query, against the test store."""
        from .embedding import embed_query
        from .run import Run
        from .search import search_store
        from .store.reader import Store

        assert self.result.store is not None
        run = Run.load(self.result.runs["ugaar"])
        items = [it for it in self._test_items() if it.audio and it.sheet and it.lyrics]
        if not items:
            raise UgaarError("the demo's test split has no complete triplet to search with")
        item = items[0]
        self.console.print("[5/5] searching the store")
        with Store(self.result.store) as store:
            queries = ((item.audio, "audio file", ["sheet"]), (item.lyrics, "lyrics", ["audio", "sheet"]))
            for query, kind, targets in queries:
                if kind == "audio file":
                    _, vector = embed_query(run, path=query)
                else:
                    _, vector = embed_query(run, text=str(query))
                hits = search_store(store, vector, targets, k=5)
                self.result.searches.append(
                    {
                        "query": str(query),
                        "kind": kind,
                        "expected": {
                            "audio": item.audio.name if item.audio else None,
                            "sheet": item.sheet.name if item.sheet else None,
                        },
                        "hits": {m: [h.as_dict() for h in hs] for m, hs in hits.items()},
                    }
                )

    def _stored_name(self, path: Path | None) -> str | None:
        """How the store names a test-split file: its path relative to the linked folder."""
        return None if path is None else str(path.resolve().relative_to(self.result.data.resolve()))

    # -- reporting -----------------------------------------------------------------------

    def summary_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "out": str(r.out),
            "data": str(r.data),
            "runs": {k: str(v) for k, v in r.runs.items()},
            "evaluations": r.evaluations,
            "store": str(r.store) if r.store else None,
            "searches": r.searches,
            "seconds": r.seconds,
        }


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def results_table(result: DemoResult) -> Table:
    """Every direction of every model: R@1, R@10, MRR, MedR, with chance and the baseline."""
    pools = sorted({int(m["pool"]) for ev in result.evaluations.values() for m in ev["directions"].values()})
    table = Table(
        title=f"Test-split retrieval, pool {', '.join(map(str, pools))}; syl.: the syllable-count baseline",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    widths = {
        "model": 5,
        "direction": 13,
        "R@1": 5,
        "R@10": 5,
        "MRR": 5,
        "MedR": 4,
        "chance": 6,
        "syl.MRR": 7,
        "syl.MedR": 8,
    }
    for col, width in widths.items():
        table.add_column(col, justify="left" if col in ("model", "direction") else "right", min_width=width)
    for name, ev in result.evaluations.items():
        baselines = ev.get("baselines", {}).get("syllable_count", {})
        for direction, m in ev["directions"].items():
            base = baselines.get(direction)
            table.add_row(
                name,
                direction,
                f"{m['R@1']:.3f}",
                f"{m['R@10']:.3f}",
                f"{m['MRR']:.3f}",
                f"{m['MedR']:.0f}",
                f"{m['chance_MRR']:.3f}",
                f"{base['MRR']:.3f}" if base else "-",
                f"{base['MedR']:.0f}" if base else "-",
            )
    return table


def search_tables(result: DemoResult) -> list[Table]:
    tables = []
    for s in result.searches:
        for modality, hits in s["hits"].items():
            expected = s["expected"].get(modality)
            t = Table(
                title=f"{s['kind']} query {Path(s['query']).name if s['kind'] == 'audio file' else repr(s['query'])} -> {modality}"
            )
            for col in ("rank", "score", "item", "the query's own passage?"):
                t.add_column(col)
            for h in hits:
                own = "yes" if expected and h["source"] == expected else ""
                t.add_row(str(h["rank"]), f"{h['score']:.3f}", h["id"], own)
            tables.append(t)
    return tables
