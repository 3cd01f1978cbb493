"""`ugaar-kit demo`: the whole job on the bundled, redistributable demo data, in one command.

Follows a recipe (`recipes/demo.toml`, or `--recipe FILE`): by default it builds the demo
dataset (public-domain songs from music21's corpus), trains a three-modality UGAAR model, a
contrastive audio-sheet model on the same budget (UGAAR's reference on audio->sheet) and the
audio-lyrics deep CCA model of Yu et al., evaluates each on the test split (every direction,
with chance and the baselines), writes an HDF5 store of the test split's files and runs two
cross-modal searches. Every step is resumable: re-running the
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

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table

from ugaar_kit.errors import InputError, UgaarError
from ugaar_kit.infra.atomic import write_text
from ugaar_kit.interfaces.dataset import DatasetFolder, Item
from ugaar_kit.interfaces.modality import AUDIO, SHEET
from ugaar_kit.registry.components import Registry

RECIPE = Path(__file__).parent / "demo.toml"
"""The default recipe: what the demo reads its data with, trains, embeds and searches."""


@dataclass(frozen=True)
class DemoPlan:
    """What the demo builds and trains; the defaults end within 5 minutes on a 2-core CPU (docs/quickstart.md)."""

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
    recipe: Path = RECIPE


@dataclass(frozen=True)
class DemoModel:
    """One model the demo trains: a run folder name, its components and its training budget."""

    name: str
    title: str
    components: dict[str, tuple[str, dict[str, Any]]]
    max_time: float
    """Seconds of training (`train --max-time`) on the demo's 1,460 training passages."""


@dataclass(frozen=True)
class Recipe:
    """A demo recipe (`recipes/demo.toml` is the default; `ugaar-kit demo --recipe FILE`)."""

    source: str
    store: str
    models: tuple[DemoModel, ...]
    searches: tuple[tuple[str, tuple[str, ...]], ...]


def load_recipe(path: Path = RECIPE) -> Recipe:
    """Read a recipe; InputError naming the file and the key for anything malformed."""
    from ugaar_kit.runfolder.config import read_toml

    raw = read_toml(path)

    def need(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
        value = table.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise InputError(path, f"{where}: '{key}' must be a {kind.__name__}, got {value!r}")
        return value

    models = []
    for k, m in enumerate(raw.get("models") or [], 1):
        where = f"[[models]] #{k}"
        components = {}
        for slot, spec in need(m, "components", dict, where).items():
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                raise InputError(path, f"{where}: component '{slot}' must be a table with a name")
            components[slot] = (spec["name"], {o: v for o, v in spec.items() if o != "name"})
        seconds = need(m, "max_time", (int, float), where)  # type: ignore[arg-type]
        models.append(
            DemoModel(need(m, "name", str, where), str(m.get("title") or m["name"]), components, float(seconds))
        )
    if not models:
        raise InputError(path, "the recipe trains no model (no [[models]] table)")
    searches = []
    for k, q in enumerate(raw.get("searches") or [], 1):
        targets = need(q, "targets", list, f"[[searches]] #{k}")
        searches.append((need(q, "query", str, f"[[searches]] #{k}"), tuple(str(t) for t in targets)))
    recipe = Recipe(
        need(raw, "source", str, "recipe"), need(raw, "store", str, "recipe"), tuple(models), tuple(searches)
    )
    if recipe.store not in {m.name for m in recipe.models}:
        raise InputError(path, f"store: '{recipe.store}' is not one of the recipe's models")
    return recipe


def demo_models(plan: DemoPlan, recipe: Recipe | None = None) -> list[DemoModel]:
    """The recipe's models, every encoder `plan.dim` wide (`--dim`)."""
    recipe = recipe or load_recipe(plan.recipe)
    return [
        DemoModel(
            m.name,
            m.title,
            {
                slot: (name, dict(options) if slot == "objective" else {**options, "dim": plan.dim})
                for slot, (name, options) in m.components.items()
            },
            m.max_time,
        )
        for m in recipe.models
    ]


@dataclass
class DemoResult:
    """What the demo produced: where, and the evaluation of each model."""

    out: Path
    data: Path
    runs: dict[str, Path] = field(default_factory=dict)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    store: Path | None = None
    store_run: Path | None = None
    """The run that made `store`."""
    searches: list[dict[str, Any]] = field(default_factory=list)
    pieces: dict[str, Any] = field(default_factory=dict)
    """The piece identification and localisation shown (`Demo.pieces`), {} when not run."""
    seconds: dict[str, float] = field(default_factory=dict)


class Demo:
    """The demo's steps, each skipping what an earlier (interrupted) run finished."""

    def __init__(self, plan: DemoPlan, registry: Registry, console: Console | None = None) -> None:
        self.plan = plan
        self.registry = registry
        self.console = console or Console(stderr=True)
        self.out = Path(plan.out)
        self.recipe = load_recipe(plan.recipe)
        self.result = DemoResult(self.out, self.out / "data")

    def _timed(self, name: str, step: Callable[[], None]) -> None:
        t0 = time.perf_counter()
        step()
        self.result.seconds[name] = round(time.perf_counter() - t0, 1)

    def run(self) -> DemoResult:
        self.out.mkdir(parents=True, exist_ok=True)
        self._timed("dataset", self.build_data)
        for model in demo_models(self.plan, self.recipe):
            self._timed(f"train {model.name}", functools.partial(self.train, model))
        self._timed("evaluate", self.evaluate)
        self._timed("store", self.embed_test_split)
        self._timed("search", self.search)
        self._timed("identify", self.pieces)
        (self.out / "results.json").write_text(json.dumps(self.summary_json(), indent=2) + "\n", encoding="utf-8")
        return self.result

    # -- steps ---------------------------------------------------------------------------

    def build_data(self) -> None:
        from ugaar_kit.build.demo import build_demo

        data = self.result.data
        if (data / "dataset.json").is_file() and (data / "manifest.jsonl").is_file():
            self.console.print(f"[1/6] demo dataset: already built in {data}")
            return
        self.console.print(f"[1/6] building the demo dataset in {data} (public-domain songs from music21's corpus)")
        build_demo(data, self.registry.dataset(self.recipe.source), limit=self.plan.limit_songs, progress=True)

    def train(self, model: DemoModel) -> None:
        from ugaar_kit.interfaces.options import Seconds
        from ugaar_kit.runfolder.config import ComponentSpec, RunConfig, TrainSettings
        from ugaar_kit.training.trainer import train

        run = self.out / "runs" / model.name
        self.result.runs[model.name] = run
        if (run / "model.pt").is_file():
            self.console.print(f"[2/6] {model.title}: already trained in {run}")
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
            self.console.print(f"[2/6] {model.title}: resuming the interrupted run in {run}")
        elif run.exists():
            shutil.rmtree(run)
        components = {slot: ComponentSpec(name, dict(opts)) for slot, (name, opts) in model.components.items()}
        self.console.print(f"[2/6] training {model.title} into {run}")
        train(RunConfig(settings, components), self.registry, console=self.console)

    def evaluate(self) -> None:
        from ugaar_kit.retrieval.evaluation import evaluate

        self.console.print(f"[3/6] evaluating the {len(self.result.runs)} models on the test split")
        for name, run in self.result.runs.items():
            self.result.evaluations[name] = evaluate(
                run, self.result.data, split="test", plots=self.out / "plots" / name
            )

    def _test_items(self) -> list[Item]:
        return DatasetFolder(self.result.data).split("test")

    def embed_test_split(self) -> None:
        """Link the test split's files into one folder (each text modality's inputs as the
        lines of `MODALITY.txt`) and embed it with the recipe's `store` run."""
        from ugaar_kit.inference.embedding import EmbedSettings, embed_paths
        from ugaar_kit.inference.run import Run

        folder = self.out / "test-split"
        folder.mkdir(exist_ok=True)
        items = self._test_items()
        data = self.result.data.resolve()
        texts: dict[str, list[str]] = {}
        for item in items:
            for modality, value in item.inputs.items():
                if not isinstance(value, Path):
                    texts.setdefault(modality, []).append(str(value))
                    continue
                target = folder / value.resolve().relative_to(data)
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    _link_or_copy(value, target)
        for modality, lines in texts.items():
            if not (folder / f"{modality}.txt").exists():
                write_text(folder / f"{modality}.txt", "".join(f"{line}\n" for line in lines if line))
        store = self.out / "test.h5"
        self.console.print(f"[4/6] embedding the test split ({len(items)} passages) into {store}")
        run = Run.load(self.result.runs[self.recipe.store])
        embed_paths(run, [folder], store, EmbedSettings())
        self.result.store = store
        self.result.store_run = self.result.runs[self.recipe.store]

    def search(self) -> None:
        """The recipe's searches, each a query from the test split's first complete item
        (its file, or its text for a text modality), against the test store."""
        from ugaar_kit.inference.embedding import embed_query
        from ugaar_kit.inference.run import Run
        from ugaar_kit.retrieval.search import search_store
        from ugaar_kit.store.reader import Store

        assert self.result.store is not None
        run = Run.load(self.result.runs[self.recipe.store])
        items = [it for it in self._test_items() if all(it.has(m) for m in run.modalities)]
        if not items:
            raise UgaarError("the demo's test split has no item with every modality to search with")
        item = items[0]
        self.console.print("[5/6] searching the store")
        with Store(self.result.store) as store:
            for modality, targets in self.recipe.searches:
                query = item.get(modality)
                is_file = isinstance(query, Path)
                if is_file:
                    _, vector = embed_query(run, path=query, modality=modality)
                else:
                    _, vector = embed_query(run, text=str(query), modality=modality)
                hits = search_store(store, vector, list(targets), k=5)
                # the store names a file by its path in the dataset folder, as `_stored_name` does
                expected = {m: self._stored_name(v) for m in targets if isinstance(v := item.get(m), Path)}
                self.result.searches.append(
                    {
                        "query": str(query),
                        "kind": f"{modality} file" if is_file else modality,
                        "file": is_file,
                        "expected": expected,
                        "hits": {m: [h.as_dict() for h in hs] for m, hs in hits.items()},
                    }
                )

    def pieces(self) -> None:
        """One piece identification (the first test song's whole recording against the test
        store's sheet snippets) and one localisation (10 s from its middle, in its score)."""

        from ugaar_kit.data.media import write_excerpt
        from ugaar_kit.inference.embedding import embed_queries, gather_queries
        from ugaar_kit.inference.embedding.cuts import query_cuts
        from ugaar_kit.inference.embedding.score import ScorePages
        from ugaar_kit.inference.run import Run
        from ugaar_kit.interfaces.dataset import read_songs
        from ugaar_kit.retrieval.identify import dataset_pieces, identify
        from ugaar_kit.retrieval.locate import locate
        from ugaar_kit.store.reader import Store

        assert self.result.store is not None
        data = self.result.data
        if not (data / "songs.jsonl").is_file():
            self.console.print("[6/6] no whole songs in the demo dataset (built before 0.2): no identification")
            return
        songs = [s for s in read_songs(data) if s.split == "test"]
        run = Run.load(self.result.runs[self.recipe.store])
        if not songs or SHEET not in run.encoders or AUDIO not in run.encoders:
            return
        song = songs[0]
        self.console.print(f"[6/6] identifying the piece of a whole recording and locating an excerpt ({song.song_id})")
        with Store(self.result.store) as store:
            window, hop = store.settings.get("window"), store.settings.get("hop")

            def windows(path: Path) -> tuple[np.ndarray, list[tuple[float, float]]]:
                found = embed_queries(run, gather_queries(run, [path])[0], window=window, hop=hop)
                kept = [(e.vector, float(e.start or 0), float(e.end or 0)) for e in found if e.vector is not None]
                return np.stack([v for v, _, _ in kept]), [(a, b) for _, a, b in kept]

            ranked = identify(store, windows(song.audio)[0], SHEET, dataset_pieces(data), top=3)
            seconds = min(10.0, song.duration)
            start = max(0.0, (song.duration - seconds) / 2)
            excerpt = write_excerpt(song.audio, start, seconds, self.out / "excerpt.wav")
            vectors, spans = windows(excerpt)
            cuts = query_cuts(run, excerpt, AUDIO, seconds)
            found = locate(
                store, vectors, song.song_id, data, SHEET, songs=[song], spans=spans, cuts=cuts, pages=ScorePages(run)
            )
        truth = song.passages[song.passage_at(start + seconds / 2)]
        self.result.pieces = {
            "recording": str(song.audio),
            "piece": song.song,
            "identified": [{"piece": p.piece, "score": p.score, "votes": p.votes} for p in ranked],
            "excerpt": {"file": str(excerpt), "start": start, "end": start + seconds},
            "located": found.as_dict(),
            "truth": {"passage": truth["id"], "page": truth.get("page"), "system": truth.get("system")},
        }

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
            "pieces": r.pieces,
            "seconds": r.seconds,
        }


def pieces_lines(result: DemoResult) -> list[str]:
    """The identification and localisation the demo showed, in words."""
    p = result.pieces
    if not p:
        return []
    best = p["identified"][0] if p["identified"] else None
    loc, truth = p["located"], p["truth"]
    lines = [
        f"Identify: the whole recording {Path(p['recording']).name} (piece {p['piece']}) -> "
        + (f"piece {best['piece']} ({best['votes']} votes)" if best else "no piece")
        + ("  [right]" if best and best["piece"] == p["piece"] else "  [wrong]"),
        f"Locate: {p['excerpt']['start']:.1f}-{p['excerpt']['end']:.1f} s of it -> passage {loc['passage']}, "
        f"page {loc['page']}, system {loc['system']} (the passage sounding at its middle: {truth['passage']}, "
        f"page {truth['page']}, system {truth['system']})",
    ]
    return lines


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
                title=f"{s['kind']} query {Path(s['query']).name if s.get('file') else repr(s['query'])} -> {modality}"
            )
            for col in ("rank", "score", "item", "the query's own passage?"):
                t.add_column(col)
            for h in hits:
                own = "yes" if expected and h["source"] == expected else ""
                t.add_row(str(h["rank"]), f"{h['score']:.3f}", h["id"], own)
            tables.append(t)
    return tables
