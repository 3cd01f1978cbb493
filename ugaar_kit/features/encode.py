"""From raw items to encoder outputs, in one place for train, eval, embed and search: an
item's input is read (`raw_input`: a `Path` through the encoder's `load_item`, anything else, a
text, taken as it is), featurized, and encoded in length-sorted batches in eval mode
(`encode_batches`); the trainer's validation and `Run.embed` both come here, so they give the
same numbers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

from ugaar_kit.interfaces.encoder import Encoder, padding_buckets

Module = TypeVar("Module", bound=torch.nn.Module)


def raw_input(encoder: Encoder, value: Any) -> Any:
    """An item's input as the encoder takes it: a `Path` is read with `load_item`; anything else
    (e.g. lyrics text) is a raw item, so a string is never taken for a file name (lyrics such as
    "oh" cannot be mistaken for a file `./oh`)."""
    return encoder.load_item(value) if isinstance(value, Path) else value


def featurize_one(encoder: Encoder, value: Any) -> Tensor:
    """`featurize` of an item's input (`raw_input` first)."""
    return encoder.featurize(raw_input(encoder, value))


def device_of(encoder: torch.nn.Module) -> torch.device:
    """Where the encoder's parameters are (the CPU for an encoder without any)."""
    param = next(iter(encoder.parameters()), None)
    return param.device if param is not None else torch.device("cpu")


@contextlib.contextmanager
def evaluating(encoder: Module) -> Iterator[Module]:
    """The encoder in eval mode, without gradients, for the block; its own mode restored after."""
    was = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            yield encoder
    finally:
        encoder.train(was)


def forward(
    encoder: Encoder,
    features: Sequence[Tensor],
    device: torch.device | str,
    project: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """`(B, D)` float32 outputs of one batch of featurized items: collated (padded to a few
    lengths an octave: `padding_buckets`), moved to `device`, encoded and, with `project`, mapped
    into the shared space. Call it inside `evaluating`."""
    with padding_buckets():
        batch = encoder.collate(list(features))
    z = encoder(batch.to(device))
    if project is not None:
        z = project(z)
    return z.float()


def eval_batches(lengths: Sequence[float], batch_size: int) -> list[list[int]]:
    """All items in batches sorted by length (no shuffling, nothing dropped)."""
    order = np.argsort(np.asarray(lengths, dtype=np.float64), kind="stable")
    return [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]


def encode_batches(
    encoder: Encoder,
    lengths: Sequence[int],
    fetch: Callable[[list[int]], list[Tensor]],
    batch_size: int,
    device: torch.device | str = "cpu",
    project: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """`(N, D)` float32 encoder outputs of N items in their order (mapped into the shared space
    by `project` when given), in eval mode, no gradients.

    Items are batched by length (`eval_batches`); `fetch(indices)` gives their features. The
    trainer's validation, `Run.embed` and search queries all come here, so they give the same
    numbers."""
    device = torch.device(device)
    out: list[Tensor | None] = [None] * len(lengths)
    with evaluating(encoder):
        for idx in eval_batches(lengths, batch_size):
            z = forward(encoder, fetch(idx), device, project)
            for j, i in enumerate(idx):
                out[i] = z[j]
    if not out:
        return torch.zeros(0, encoder.output_dim, device=device)
    return torch.stack([t for t in out if t is not None])


def encode_features(
    encoder: Encoder,
    features: Sequence[Tensor],
    batch_size: int,
    device: torch.device | str = "cpu",
    project: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """`encode_batches` over a list of featurized items `(N, D)`."""
    lengths = [int(f.shape[-1]) if f.ndim else 1 for f in features]
    return encode_batches(encoder, lengths, lambda idx: [features[i] for i in idx], batch_size, device, project)
