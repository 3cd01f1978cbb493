"""`ugaar-kit locate`: where in a piece's score an audio excerpt (or lyrics lines) sits.

The query's vectors come from `ugaar_kit.retrieval.queries.query_jobs`; `ugaar_kit.retrieval.locate` aligns
them to the piece's passages. (No `from __future__ import annotations`: Typer reads the
parameter types.)
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ugaar_kit.cli import params
from ugaar_kit.cli.base import out_console
from ugaar_kit.registry.components import Registry


def add(app: typer.Typer, get_registry: Callable[[], Registry]) -> None:
    """Add the `locate` command to the root app."""

    @app.command("locate")
    def locate(
        piece: Annotated[
            str,
            typer.Option(
                "--piece", help="The piece: a song of the dataset (its `song` or `song_id`).", show_default=False
            ),
        ],
        index: params.StoreIndex,
        run: params.StoreRun,
        data: Annotated[
            Path,
            typer.Option(
                "--data",
                help="The dataset folder, built with --whole-songs: the piece's passages, pages and systems.",
                show_default=False,
            ),
        ],
        query: Annotated[
            Path | None,
            typer.Argument(
                help="An audio excerpt (cut into the store's windows) or a lyrics text file (a vector a line).",
                show_default=False,
            ),
        ] = None,
        text: params.LyricsLines = None,
        target: Annotated[
            str,
            typer.Option("--target", help="The stored modality the piece's score (or passages) is aligned in."),
        ] = "sheet",
        as_json: Annotated[bool, typer.Option("--json", help="Print the location as one JSON object.")] = False,
        device: params.Device = None,
    ) -> None:
        """Find where a query sits in a piece's score: the passage, its page, system and box.

        The piece is its stored rows of --target (sheet by default): the windows along the systems
        of its score pages when the store holds them (embed cuts a page so), each timed by where
        its edges fall on the score, else its passage snippets with their spans (songs.jsonl, at
        the score's tempo). A recording's windows are laid on that timing at the offset where
        they match best (a recording of 30 s or less also cut, at each offset, at the span of
        each score window it holds, as training pairs a page window with the stretch it sounds);
        a recording is laid on the piece's pages read anew in narrower windows (4 and 3 system
        heights every 1, two readings whose fits are averaged, where a store holds 6 every 3)
        when their files are at hand, and the passage sounding at the excerpt's midpoint is the
        answer; lyrics lines are aligned by subsequence dynamic time warping. The answer's place
        on the pages comes from songs.jsonl."""
        from ugaar_kit.data.staves import PAGE_HOP, PAGE_WINDOW
        from ugaar_kit.errors import InputError, OptionError
        from ugaar_kit.inference.embedding.score import ScorePages
        from ugaar_kit.retrieval.locate import locate as locate_in
        from ugaar_kit.retrieval.queries import load_run, query_jobs, recording_cuts
        from ugaar_kit.store.reader import Store

        if (query is None) == (not text):
            raise OptionError("give one query: a file, or --text lines")
        with Store(index) as store:
            if target not in store.modalities:
                raise OptionError(
                    f"--target {target}: the store has no such embeddings (it has: {', '.join(store.modalities)})"
                )
            loaded = load_run(store, run, get_registry(), device)
            queries = [query] if query else []
            label, modality, embed = query_jobs(loaded, store, queries, text or [], PAGE_WINDOW, PAGE_HOP)[0]
            if modality == target:
                raise OptionError(f"--target {target}: a {modality} query is located in another modality's rows")
            embedded = [e for e in embed() if e.vector is not None]
            if not embedded:
                raise InputError(label, "nothing in it could be embedded")
            import numpy as np

            timed = all(e.start is not None and e.end is not None for e in embedded)
            spans = [(float(e.start), float(e.end)) for e in embedded] if timed else None
            cuts = recording_cuts(loaded, label, modality)
            vectors = np.stack([e.vector for e in embedded])
            found = locate_in(store, vectors, piece, data, target, spans=spans, cuts=cuts, pages=ScorePages(loaded))
        if as_json:
            typer.echo(json.dumps({"query": label, "query_modality": modality, "target": target, **found.as_dict()}))
            return
        where = f"page {found.page}, system {found.system}, box {found.box}" if found.page is not None else "no page"
        out_console.print(
            f"{label}: piece {found.piece} (version {found.song_id}), passage {found.passage} "
            f"({found.index + 1} of {found.passages}): {where}; the query spans {found.first} to {found.last} "
            f"(cost {found.cost:.3f}, lower is better)",
            markup=False,
        )
