"""Starting an encoder's body from saved weights and freezing it (`-o audio.weights=PATH
-o audio.freeze=true`): the pretrained branch any encoder can mix in.

PATH may be
- an encoder state written by `ugaar_kit.interfaces.state.encoder_state` (saved with `save_atomic`),
- a run checkpoint, a dict with `"encoders": {modality: encoder_state}` (`RUN/model.pt`,
  `best.pt`, `last.pt`), or
- a run folder: its `model.pt`, else `checkpoint.pt`, else `best.pt`, else `last.pt`.
Files are read with `load_safe` (`weights_only=True`). The saved encoder must be of the same
modality and name, agree on every option in the class's `body_options` (what shapes the body
and its input features), and hold a tensor of the same shape for every body parameter;
otherwise InputError says which.

The loaded body is also stored in the encoder's own checkpoints, so a trained run does not need
PATH any more: when PATH is missing while the encoder is being rebuilt from a checkpoint, the
following `load_state_dict` supplies the weights; `forward` refuses to run if none ever came.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from torch import Tensor, nn

from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.state import load_safe

RUN_FILES = ("model.pt", "checkpoint.pt", "best.pt", "last.pt")


def checkpoint_file(path: Path) -> Path:
    """`path` itself, or for a run folder the first of `RUN_FILES` in it."""
    path = Path(path).expanduser()
    if path.is_dir():
        for name in RUN_FILES:
            if (path / name).is_file():
                return path / name
        raise InputError(path, f"no checkpoint in this folder (looked for {', '.join(RUN_FILES)})")
    if not path.exists():
        raise InputError(path, "weights file not found")
    return path


def saved_encoder_state(path: Path, modality: str) -> dict[str, Any]:
    """The `encoder_state` dict for `modality` in the file or run folder at `path`."""
    file = checkpoint_file(path)
    state = load_safe(file)
    if not isinstance(state, Mapping):
        raise InputError(file, "not an encoder state or run checkpoint (not a dict)")
    if "encoders" in state:
        encoders = state["encoders"]
        if not isinstance(encoders, Mapping) or modality not in encoders:
            known = ", ".join(map(str, encoders)) if isinstance(encoders, Mapping) else "none"
            raise InputError(file, f"the run checkpoint has no {modality} encoder (it has: {known})")
        state = encoders[modality]
    if not isinstance(state, Mapping) or not {"modality", "name", "options", "state_dict"} <= set(state):
        raise InputError(file, "not an encoder state or run checkpoint (no modality/name/options/state_dict)")
    return dict(state)


class PretrainedBody:
    """Mixin for an `Encoder` whose trainable body (attribute `body_attr`) may start from saved
    weights and be frozen, leaving the rest (the head) to train.

    Call `init_pretrained(weights, freeze)` at the end of `__init__`, and `require_weights()` at
    the start of `forward`. A frozen body stays in eval mode (BatchNorm statistics fixed, no
    dropout) and gets no gradient."""

    body_attr: ClassVar[str] = "body"
    body_options: ClassVar[tuple[str, ...]] = ()
    """Options that must equal the saved encoder's for its body weights to fit."""

    name: ClassVar[str]
    modality: ClassVar[str]
    options: Any

    def init_pretrained(self, weights: Path | None, freeze: bool) -> None:
        self._frozen_body = bool(freeze)
        self._weights_missing: InputError | None = None
        body = self._body()
        if weights is not None:
            try:
                self.load_body(weights)
            except InputError as exc:
                if Path(weights).expanduser().exists():
                    raise
                self._weights_missing = exc
                self.register_load_state_dict_pre_hook(_weights_supplied)  # type: ignore[attr-defined]
        if freeze:
            body.requires_grad_(False)
            body.eval()

    def _body(self) -> nn.Module:
        body = getattr(self, self.body_attr)
        assert isinstance(body, nn.Module)
        return body

    def load_body(self, path: Path) -> None:
        """Copy the body weights of the saved encoder at `path` into this one (see the module doc)."""
        state = saved_encoder_state(path, self.modality)
        where = checkpoint_file(path)
        label = f"{self.modality}/{self.name}"
        if (state["modality"], state["name"]) != (self.modality, self.name):
            raise InputError(where, f"holds a {state['modality']}/{state['name']} encoder, not {label}")
        self.check_saved_state(state, where)
        from ugaar_kit.interfaces import options as opts

        mine = opts.to_dict(self.options)
        theirs = opts.upgrade(type(self.options), state["options"])
        for key in self.body_options:
            if key in theirs and theirs[key] != mine.get(key):
                raise InputError(
                    where,
                    f"{label} saved with {self.modality}.{key}={theirs[key]!r}, but this encoder has "
                    f"{mine.get(key)!r}: the weights do not fit (set the same value)",
                )
        prefix = self.body_attr + "."
        saved = {k[len(prefix) :]: v for k, v in state["state_dict"].items() if k.startswith(prefix)}
        own = self._body().state_dict()
        if own and not saved:
            raise InputError(
                where,
                f"the saved {label} holds no {self.body_attr} weights (a frozen pretrained {self.body_attr} is not "
                "stored in checkpoints: start from its model folder instead)",
            )
        missing = sorted(set(own) - set(saved))
        if missing:
            raise InputError(where, f"the saved {label} has no weights for {prefix}{missing[0]}")
        for key, value in own.items():
            got = saved[key]
            if not isinstance(got, Tensor) or got.shape != value.shape:
                shape = tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__
                raise InputError(
                    where,
                    f"{prefix}{key} has shape {shape} in the file, {tuple(value.shape)} here: the weights do not fit",
                )
        self._body().load_state_dict({k: saved[k] for k in own})

    def check_saved_state(self, state: Mapping[str, Any], where: Path) -> None:
        """Encoder-specific checks of a saved encoder state before its body is copied (raise
        InputError naming `where`); by default none beyond name, `body_options` and shapes."""

    def require_weights(self) -> None:
        """Raise the InputError of a `weights` file that was missing and never replaced by a checkpoint."""
        if self._weights_missing is not None:
            raise self._weights_missing

    def train(self, mode: bool = True) -> Any:
        super().train(mode)  # type: ignore[misc]
        if getattr(self, "_frozen_body", False):
            self._body().eval()
        return self


def _weights_supplied(module: PretrainedBody, *args: Any, **kwargs: Any) -> None:
    """load_state_dict pre-hook: a checkpoint brings the body, so a missing `weights` file no longer matters."""
    module._weights_missing = None
