"""`ugaar_kit.Run`: a trained run folder in Python, for notebooks and the `embed`/`eval`/`search` commands.

    run = Run.load("runs/dcca-1")
    z = run.embed("audio", [Path("a.wav"), Path("b.wav")])  # (2, run.shared_dim)
    run.metrics[-1]["valid_mrr"]

The run folder is self-contained: the checkpoint names each component, and the registry
(installed plugins by default) rebuilds them with their options and weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ugaar_kit.errors import InputError
from ugaar_kit.features.encode import encode_features, featurize_one
from ugaar_kit.interfaces.encoder import Encoder
from ugaar_kit.interfaces.objective import Objective
from ugaar_kit.registry.components import Registry
from ugaar_kit.runfolder import checkpoint as ckpt
from ugaar_kit.runfolder import files as rf
from ugaar_kit.runfolder.config import RunConfig, parse_config

CHECKPOINTS = {"model": rf.MODEL, "best": rf.BEST, "last": rf.LAST}


class Run:
    """A loaded run: its encoders, objective, config and metrics."""

    def __init__(
        self,
        path: Path,
        state: dict[str, Any],
        encoders: dict[str, Encoder],
        objective: Objective,
        device: torch.device,
    ) -> None:
        self.path = Path(path)
        self.state = state
        self.encoders = encoders
        self.objective = objective
        self.device = device

    @classmethod
    def load(
        cls,
        path: str | Path,
        registry: Registry | None = None,
        checkpoint: str = "model",
        device: str | torch.device = "cpu",
    ) -> Run:
        """Load a run folder (or a checkpoint file). `checkpoint`: `model` (final, default),
        `best` or `last`. `registry`: where component classes come from (installed plugins)."""
        path = Path(path)
        if path.is_dir():
            name = CHECKPOINTS.get(checkpoint)
            if name is None:
                raise InputError(path, f"unknown checkpoint '{checkpoint}' (known: {', '.join(CHECKPOINTS)})")
            file = path / name
            if not file.is_file():
                if not (path / rf.INFO).is_file():
                    raise InputError(path, "not a run folder (no run.json)")
                hint = (
                    " the run did not finish: resume it with 'ugaar-kit train --resume RUN' or load checkpoint='best'"
                )
                raise InputError(path, f"no {name};{hint if name == rf.MODEL else ''}")
            folder = path
        else:
            file, folder = path, path.parent
        if registry is None:
            from ugaar_kit.registry.discovery import get_registry

            registry = get_registry()
        state = ckpt.load(file)
        encoders = ckpt.restore_encoders(state, registry, file)
        objective = ckpt.restore_objective(state, registry, file)
        dev = torch.device(device)
        for enc in encoders.values():
            enc.to(dev).eval()
        objective.to(dev).eval()
        return cls(folder, state, encoders, objective, dev)

    @property
    def run_id(self) -> str:
        return str(self.state["run_id"])

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.state["modalities"])

    @property
    def shared_dim(self) -> int:
        return int(self.state["shared_dim"])

    @property
    def epoch(self) -> int:
        return int(self.state["epoch"])

    @cached_property
    def config(self) -> RunConfig:
        """The resolved config the run was trained with."""
        raw = self.state["config"]
        slots = [k for k, v in raw.items() if isinstance(v, dict)]
        return parse_config(raw, slots, where=self.path / rf.CONFIG)

    @property
    def info(self) -> dict[str, Any]:
        """`run.json` (an empty dict when the folder has none)."""
        p = self.path / rf.INFO
        return rf.read_json(p) if p.is_file() else {}

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """The rows of `metrics.jsonl`, one per epoch."""
        return rf.read_rows(self.path / rf.METRICS)

    def encoder(self, modality: str) -> Encoder:
        if modality not in self.encoders:
            raise InputError(self.path, f"this run has no {modality} encoder (it has: {', '.join(self.modalities)})")
        return self.encoders[modality]

    def featurize(self, modality: str, items_or_paths: Sequence[Any]) -> list[Tensor]:
        """Features of raw items or files, as the encoder's `featurize` gives them."""
        enc = self.encoder(modality)
        with torch.no_grad():
            return [featurize_one(enc, x) for x in items_or_paths]

    def encode(self, modality: str, items_or_paths: Sequence[Any], batch_size: int = 64) -> Tensor:
        """Encoder outputs `(N, D_m)` before projection into the shared space."""
        enc = self.encoder(modality)
        return encode_features(enc, self.featurize(modality, items_or_paths), batch_size, self.device)

    def embed(self, modality: str, items_or_paths: Sequence[Any], batch_size: int = 64) -> Tensor:
        """Embeddings `(N, shared_dim)` in the shared space, on the CPU, in the input order.

        Items are `pathlib.Path`s (read with the encoder's `load_item`) or raw items (lyrics text is
        expected normalized: `ugaar_kit.data.lyrics_text.normalize_lyrics`)."""
        z = self.encode(modality, items_or_paths, batch_size)
        with torch.no_grad():
            return self.objective.project(modality, z).float().cpu()

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, run_id={self.run_id!r}, modalities={self.modalities}, shared_dim={self.shared_dim})"
