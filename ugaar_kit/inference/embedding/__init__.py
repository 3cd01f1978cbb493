"""The embed pipeline: files and folders -> rows (windows, lines) -> shared-space embeddings -> store.

    walk (walk.py) -> route by extension -> drop done files and other shards
      -> load, cut and featurize each file (`ugaar_kit.features.pool`: worker processes, one torch thread each)
      -> batches of rows -> encoder + objective.project (GPU when the run is on one)
      -> journal -> store (store/writer.py: crash-safe, resumable)

Rows are what each modality's encoder makes of a file (`Encoder.embed_rows`, see
`ugaar_kit.interfaces.rows`): audio windows of `window` seconds every `hop` (ids `source#t=START-END`),
lyrics lines (`source#L12`, via the `TextLines` mixin), one row per file for anything else
(sheet images, a plugin's modality); a file of one row has the id `source`.

Modules: `settings` (settings, summary, shards, window, routes), `files` (one file to
rows), `pipeline` (`embed_paths`), `query` (`gather_queries`, `embed_queries`).

Works with any run object with `.encoders` (modality -> Encoder), `.objective` (`project`),
`.run_id`, `.modalities` and a config (`.state["config"]` or `.config`): `ugaar_kit.Run`.
"""

from ugaar_kit.inference.embedding.files import Prepared, prepare
from ugaar_kit.inference.embedding.pipeline import PAUSE_ENV, embed_paths
from ugaar_kit.inference.embedding.query import Embedded, Query, embed_queries, embed_query, gather_queries
from ugaar_kit.inference.embedding.settings import (
    DEFAULT_HOP,
    DEFAULT_WINDOW,
    EmbedSettings,
    EmbedSummary,
    extension_routes,
    parse_shard,
    resolve_window,
    run_config_json,
    shard_of,
    window_defaults,
)
from ugaar_kit.interfaces.rows import cut_windows, sample_rate_of, seconds_label

__all__ = [
    "DEFAULT_HOP",
    "DEFAULT_WINDOW",
    "PAUSE_ENV",
    "EmbedSettings",
    "Embedded",
    "EmbedSummary",
    "Prepared",
    "Query",
    "cut_windows",
    "embed_paths",
    "embed_queries",
    "embed_query",
    "extension_routes",
    "gather_queries",
    "parse_shard",
    "prepare",
    "resolve_window",
    "run_config_json",
    "sample_rate_of",
    "seconds_label",
    "shard_of",
    "window_defaults",
]
