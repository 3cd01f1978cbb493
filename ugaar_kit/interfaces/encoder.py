"""The encoder interface: one modality's path from a file to a `(B, D)` embedding.

The stages, each a method, so the trainer, the feature cache and `embed` can call them apart:

    load_item(path)      -> raw item (decoded audio, image array, lyrics text)
    featurize(raw)       -> features: a tensor, deterministic, so it can be cached
    augment(features, g) -> (training batches only) a randomly altered copy; default unchanged
    collate([features])  -> Batch: padded data plus a mask for variable-length inputs
    forward(batch)       -> (B, D) float embeddings

An encoder that must see the training data first (Doc2vec) sets `needs_fit` and implements
`fit`. Fitted parts are saved through `get_extra_state`/`set_extra_state` as tensors, numbers,
strings, lists and dicts only, so checkpoints load with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ugaar_kit.errors import OptionError
from ugaar_kit.interfaces import options as opts
from ugaar_kit.interfaces.options import NoOptions
from ugaar_kit.interfaces.rows import Rows, file_rows


@dataclass
class Batch:
    """A padded batch. `data` is `(B, ...)`, padded along its last axis; `mask` is `(B, T)`,
    True where `data[..., t]` is real (None when nothing was padded, e.g. fixed-size vectors)."""

    data: Tensor
    mask: Tensor | None = None

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        mask = None if self.mask is None else self.mask.to(device, non_blocking=non_blocking)
        return Batch(self.data.to(device, non_blocking=non_blocking), mask)

    def __len__(self) -> int:
        return int(self.data.shape[0])


_BUCKETS: ContextVar[bool] = ContextVar("ugaar_kit_padding_buckets", default=False)


@contextlib.contextmanager
def padding_buckets() -> Iterator[None]:
    """Within the block, `pad_last` pads a batch to one of a few lengths an octave (at most an
    eighth past its longest item). Inference meets batches of every length, and the CPU's
    convolutions (oneDNN) build and keep a primitive for each new input shape, up to a thousand:
    `embed`'s main process grew by a gigabyte over 10,000 files of varying lengths. Masked
    encoders give the same embeddings either way."""
    token = _BUCKETS.set(True)
    try:
        yield
    finally:
        _BUCKETS.reset(token)


def bucket_length(n: int, multiple: int = 1) -> int:
    """`n` rounded up to a multiple of `multiple` and of an eighth of its octave (power of two)."""
    step = 1 << max(0, n.bit_length() - 4)
    n = -(-n // step) * step
    return -(-n // multiple) * multiple


def pad_last(features: Sequence[Tensor], pad_value: float = 0.0, multiple: int = 1) -> Batch:
    """Stack tensors of equal leading shape and varying last axis, padding to the longest
    (rounded up to `multiple`, for networks that pool; to `bucket_length` inside
    `padding_buckets`), with a `(B, T)` mask of real steps."""
    if not features:
        raise ValueError("cannot collate an empty batch")
    lengths = [int(f.shape[-1]) for f in features]
    longest = max(lengths)
    longest = bucket_length(longest, multiple) if _BUCKETS.get() else -(-longest // multiple) * multiple
    lead = tuple(features[0].shape[:-1])
    data = features[0].new_full((len(features), *lead, longest), pad_value)
    mask = torch.zeros(len(features), longest, dtype=torch.bool)
    for i, (f, n) in enumerate(zip(features, lengths)):
        data[i, ..., :n] = f
        mask[i, :n] = True
    return Batch(data, mask)


def masked_mean(x: Tensor, mask: Tensor | None) -> Tensor:
    """Mean of `x` `(B, C, T)` over T counting only steps where `mask` `(B, T)` is True."""
    if mask is None:
        return x.mean(dim=-1)
    m = mask.to(x.dtype).unsqueeze(1)
    return (x * m).sum(-1) / m.sum(-1).clamp_min(1.0)


def downsample_mask(mask: Tensor | None, length: int) -> Tensor | None:
    """The mask `(B, T)` for a time axis pooled down to `length` steps: a step is real when any
    input step it covers is real."""
    if mask is None:
        return None
    pooled = nn.functional.adaptive_max_pool1d(mask.float().unsqueeze(1), length)
    return pooled.squeeze(1) > 0


class Encoder(nn.Module):
    """One modality's encoder; subclass it and register the class from a plugin.

    Class attributes: `name` (unique per modality), `modality`, `description` (one line),
    `Options` (a dataclass of options; see `ugaar_kit.interfaces.options`), `extensions` (file suffixes
    `load_item` reads, lower case with the dot), `needs_fit`, `default` (True: the encoder a
    run gets for its modality when the user names none).
    """

    name: ClassVar[str]
    modality: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    extensions: ClassVar[tuple[str, ...]] = ()
    needs_fit: ClassVar[bool] = False
    default: ClassVar[bool] = False
    """True: the encoder of its modality when a run needs the modality and names no encoder (one
    per modality; where several distributions claim it, see `Registry.default_encoder`)."""
    feature_options: ClassVar[tuple[str, ...] | None] = None
    """The options `featurize` depends on (None: all); the others leave cached features valid."""
    feature_version: ClassVar[int] = 1
    """Raise it when `featurize` changes, so caches made by the old code are not reused."""
    text_input: ClassVar[bool] = False
    """True when the raw item is text (`ugaar_kit.interfaces.rows.TextLines` sets it): `--text` queries
    and a manifest's text reach the encoder."""

    def __init__(self, options: Any = None) -> None:
        super().__init__()
        self.options = options if options is not None else self.Options()

    @classmethod
    def from_options(cls, values: dict[str, Any] | None = None) -> Encoder:
        """Build from user values (strings or TOML values), validating every key."""
        return cls(opts.build(cls.Options, values, prefix=cls.modality))

    @property
    def output_dim(self) -> int:
        """D, the width of `forward`'s output."""
        raise NotImplementedError

    def load_item(self, path: Path) -> Any:
        """Read one raw item from a file, raising `InputError(path, problem)` on bad input."""
        raise NotImplementedError

    def featurize(self, raw: Any) -> Tensor:
        """Raw item to model input; deterministic for given options and fitted state."""
        raise NotImplementedError

    def embed_rows(self, path: Path, window: float, hop: float) -> Rows:
        """The rows `embed` makes of one file (`ugaar_kit.interfaces.rows`): by default the file's
        `load_item` as one row, or, for a 1-D waveform at a known `sample_rate`, its windows of
        `window` seconds every `hop`. Text encoders mix in `rows.TextLines` (a row a line)."""
        return file_rows(self, path, window, hop)

    def embed_parts(self, path: Path, window: float, hop: float) -> Iterator[Rows]:
        """The rows `embed` makes of one file, in parts it featurizes and hands on one at a time:
        by default `embed_rows` as one part. Audio encoders mix in `rows.Waveform`, which cuts a
        recording into windows as it decodes it, so a long one needs no more memory than a short one."""
        yield self.embed_rows(path, window, hop)

    def query_input(self, path: Path | None = None, text: str | None = None) -> Any:
        """The raw item of one search query: a file (default: `load_item`, whole), or `text`
        for an encoder with `text_input`."""
        if text is not None:
            raise OptionError(f"the {self.modality} encoder '{self.name}' takes files, not --text")
        assert path is not None
        return self.load_item(path)

    def augment(self, features: Tensor, generator: torch.Generator) -> Tensor:
        """A randomly altered copy of one training item's features (default: unchanged).

        Called on training batches only, before `collate`, with a generator seeded by the run
        seed and the step; draw every random number from it (`ugaar_kit.toolkit.augment` has helpers)."""
        return features

    def collate(self, features: Sequence[Tensor]) -> Batch:
        """Features of several items to one batch; default pads the last axis with a mask."""
        return pad_last(features)

    def forward(self, batch: Batch) -> Tensor:  # noqa: D102 - documented in the class
        raise NotImplementedError

    def fit(self, raws: Sequence[Any]) -> None:
        """Learn what must be learnt before training from the training split's raw items."""

    @property
    def is_fitted(self) -> bool:
        """False while an encoder with `needs_fit` has not been fitted (or loaded)."""
        return True

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters the trainer optimises (frozen parts excluded)."""
        return [p for p in self.parameters() if p.requires_grad]

    def feature_key(self) -> str:
        """A hash of everything `featurize` depends on: the cache key of its outputs.

        Default: the encoder's name, `feature_version` and its `feature_options` (all options when
        None). An encoder whose features also depend on fitted state (Doc2vec) should override it."""
        values = opts.to_dict(self.options)
        if self.feature_options is not None:
            values = {k: values[k] for k in self.feature_options}
        payload = json.dumps(
            {"encoder": f"{self.modality}/{self.name}", "version": self.feature_version, "options": values},
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def encode(self, raws: Sequence[Any], device: torch.device | str = "cpu") -> Tensor:
        """Convenience: raw items to `(B, D)` embeddings in eval mode, without gradients."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                batch = self.collate([self.featurize(r) for r in raws]).to(device)
                return self(batch)
        finally:
            self.train(was_training)
