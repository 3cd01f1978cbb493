"""The `hf` audio encoder: a pretrained audio transformer (wav2vec 2.0, HuBERT, MERT-style) from
a local Hugging Face folder, mean-pooled over its frames, then a dense head.

`-o audio.model=PATH` names the folder (a `config.json`, the weights, a
`preprocessor_config.json`); it is loaded with `transformers.AutoModel` and
`AutoFeatureExtractor`, always with `local_files_only=True`, and runs custom model code only
with `-o audio.trust_remote_code=true`. Audio is resampled to the feature extractor's
`sampling_rate`, cut to `max_seconds`, and normalised by the extractor. Models whose extractor
returns an attention mask (layer-norm feature encoders) run padded batches with that mask;
others (group-norm feature encoders, such as wav2vec2-base, whose outputs change with padding)
run one item at a time, so an item's embedding never depends on its batch.

With `freeze=true` (the default) the frozen model's pooled output is the feature: `featurize`
runs the model once per item (exact, unpadded) and the trainer caches the result, so training
runs only the head (a base-size model is about 1 item/s for a 5-s clip on one CPU thread: far
too slow to rerun every epoch). With `freeze=false` the features are the normalised waveform
and the model runs in `forward`.

Checkpoints: the weights of a frozen model (the default) are the folder's and are not copied
into the checkpoint; the checkpoint stores the folder's path and the sha256 of its files (and
refuses to load over different files) plus the trainable parts (the head, and the model when
`freeze=false`).

Pretrained branch (`ugaar_kit.toolkit.pretrained`): `-o audio.weights=PATH` starts the model from the
fine-tuned weights of an earlier `audio/hf` run made with `freeze=false` on the same model
folder (same sha256), e.g. to fine-tune once against the sheet music and then keep that model
fixed (`freeze=true`) while another branch trains. Such a model is no longer the folder's, so
checkpoints then store its weights, and the feature cache key of a frozen one includes a
sha256 of them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from ugaar_kit.data.media import load_audio
from ugaar_kit.errors import InputError, UgaarError
from ugaar_kit.interfaces.encoder import Batch, Encoder, masked_mean, pad_last
from ugaar_kit.interfaces.options import option
from ugaar_kit.interfaces.rows import Waveform
from ugaar_kit.toolkit.layers import DenseHead
from ugaar_kit.toolkit.model_folder import folder_sha256
from ugaar_kit.toolkit.pretrained import PretrainedBody

from . import model_folder

FEATURE_VERSION = 1


@dataclass(frozen=True)
class HFAudioOptions:
    model: Path | None = option(None, "Local Hugging Face audio model folder (wav2vec2, HuBERT, MERT-style); required.")
    trust_remote_code: bool = option(False, "Allow the folder's own model code to run (MERT needs it).")
    freeze: bool = option(True, "Keep the pretrained model fixed and train only the head.")
    layer: int = option(-1, "Hidden state to pool: -1 the last, 0 the input embeddings, k the k-th layer.")
    max_seconds: float = option(30.0, "Longer audio is cut to its first max_seconds.", min=0.1, max=3600.0)
    hidden: int = option(256, "Width of the head's hidden layer (0: one linear layer).", min=0, max=65536)
    dim: int = option(128, "Output width D.", min=1, max=65536)
    dropout: float = option(0.1, "Dropout after the head's hidden layer.", min=0.0, max=0.9)
    weights: Path | None = option(
        None, "Start the model from a fine-tuned audio/hf state, run checkpoint or run folder (same model folder)."
    )


class HFAudio(Waveform, PretrainedBody, Encoder):
    """Audio through a pretrained transformer from a local folder, mean-pooled over frames.

    Raw: waveform `(S,)` at the extractor's `sampling_rate`. Features: frozen, the model's
    mean-pooled hidden state `(H,)` float32 (batch `(B, H)`, no mask); fine-tuned, the
    extractor's `input_values` `(S',)` float32 (batch `(B, S)` padded with 0, mask `(B, S)`).
    Output: `(B, dim)` float32."""

    name: ClassVar[str] = "hf"
    modality: ClassVar[str] = "audio"
    description: ClassVar[str] = (
        "Pretrained audio transformer from a local Hugging Face folder, mean-pooled, dense head"
    )
    Options: ClassVar[type] = HFAudioOptions
    extensions: ClassVar[tuple[str, ...]] = (".wav", ".flac", ".ogg", ".mp3")
    body_attr: ClassVar[str] = "backbone"

    def __init__(self, options: HFAudioOptions | None = None) -> None:
        super().__init__(options)
        o: HFAudioOptions = self.options
        if o.model is None:
            raise UgaarError("audio/hf needs a local model folder: -o audio.model=PATH (nothing is downloaded)")
        self.model_path = model_folder.check_model_folder(o.model)
        self.extractor, self.backbone = model_folder.load_pretrained(self.model_path, o.trust_remote_code)
        self.sample_rate = int(self.extractor.sampling_rate)
        self.batched = bool(getattr(self.extractor, "return_attention_mask", False))
        n_layers = getattr(self.backbone.config, "num_hidden_layers", None)
        if isinstance(n_layers, int) and not -(n_layers + 1) <= o.layer <= n_layers:
            raise UgaarError(f"option 'audio.layer': {o.layer} is outside -{n_layers + 1}..{n_layers} for this model")
        width = int(self.backbone.config.hidden_size)
        self.head = DenseHead(width, o.dim, o.hidden, o.dropout)
        self.register_state_dict_post_hook(_drop_frozen_backbone)
        self.register_load_state_dict_pre_hook(_fill_frozen_backbone)
        self.register_load_state_dict_pre_hook(_forget_weights_sha256)
        self.init_pretrained(o.weights, o.freeze)  # loads `weights` into the backbone, freezes it

    @property
    def output_dim(self) -> int:
        return int(self.options.dim)

    @property
    def model_sha256(self) -> str:
        return folder_sha256(self.model_path)

    @property
    def stores_backbone(self) -> bool:
        """Whether checkpoints hold the model's weights: fine-tuned, or loaded from `weights`."""
        return not self.options.freeze or self.options.weights is not None

    def weights_sha256(self) -> str:
        """sha256 over the model's current weights (names, dtypes, shapes, values); cached until a
        `load_state_dict`. What the features of a frozen model started from `weights` depend on."""
        cached = self.__dict__.get("_weights_sha256")
        if cached is None:
            h = hashlib.sha256()
            for key, value in sorted(self.backbone.state_dict().items()):
                t = value.detach().cpu().contiguous()
                h.update(f"{key}|{t.dtype}|{tuple(t.shape)}".encode())
                h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
            cached = self.__dict__["_weights_sha256"] = h.hexdigest()
        return cached

    def check_saved_state(self, state: Any, where: Path) -> None:
        """Fine-tuned weights fit only the model folder they were fine-tuned from (same sha256)."""
        extra = state["state_dict"].get("_extra_state")
        theirs = extra.get("model_sha256") if isinstance(extra, dict) else None
        if theirs != self.model_sha256:
            raise InputError(
                where,
                f"the saved audio/hf was fine-tuned from other model files (sha256 {str(theirs)[:12]}…) than "
                f"{self.model_path} ({self.model_sha256[:12]}…): set -o audio.model to the folder it was made with",
            )

    def train(self, mode: bool = True) -> HFAudio:
        super().train(mode)
        if self.options.freeze:
            self.backbone.eval()  # a frozen model never runs dropout
        return self

    def load_item(self, path: Path) -> Tensor:
        """The recording as a mono waveform `(S,)` at the model's sampling rate."""
        return load_audio(path, self.sample_rate)

    def featurize(self, raw: Any) -> Tensor:
        """Waveform `(S,)` -> frozen: pooled hidden state `(H,)`; fine-tuned: the extractor's
        `input_values` `(S',)`, S' = min(S, max_seconds * rate)."""
        values = self._input_values(raw)
        if not self.options.freeze:
            return values
        self.require_weights()
        device = next(self.backbone.parameters()).device
        with torch.no_grad():
            states, _ = self._frames(values[None].to(device), None)
        return states.float().mean(dim=1)[0].cpu().contiguous()

    def _input_values(self, raw: Any) -> Tensor:
        wave = torch.as_tensor(raw, dtype=torch.float32).reshape(-1)
        wave = wave[: int(round(self.options.max_seconds * self.sample_rate))]
        if wave.numel() == 0:
            raise ValueError("cannot featurize an empty waveform")
        out = self.extractor(wave.numpy(), sampling_rate=self.sample_rate, return_tensors="pt")
        values = out.get("input_values")
        if values is None or values.ndim != 2:
            raise UgaarError(f"{self.model_path}: audio/hf supports models that take raw waveforms (input_values)")
        return values[0].float().contiguous()

    def collate(self, features: Sequence[Tensor]) -> Batch:
        if self.options.freeze:
            return Batch(torch.stack(list(features)))
        return pad_last(features)

    def _frames(self, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """`(B, S)` samples -> hidden states `(B, T, H)` and the frame mask `(B, T)`."""
        layer = int(self.options.layer)
        kwargs: dict[str, Any] = {"output_hidden_states": layer != -1}
        if mask is not None:
            kwargs["attention_mask"] = mask.long()
        out = self.backbone(input_values=x, **kwargs)
        states = out.last_hidden_state if layer == -1 else out.hidden_states[layer]
        if mask is None:
            return states, None
        frames = self.backbone._get_feature_vector_attention_mask(states.shape[1], mask.long())
        return states, frames.bool()

    def forward(self, batch: Batch) -> Tensor:
        """Frozen: `(B, H)` pooled states; fine-tuned: `(B, S)` with mask `(B, S)` -> `(B, dim)` float32."""
        self.require_weights()
        x = batch.data.float()
        if self.options.freeze:
            return self.head(x)
        mask = batch.mask
        if self.batched:
            states, frames = self._frames(x, mask)
            pooled = masked_mean(states.float().transpose(1, 2), frames)
        else:
            lengths = mask.sum(dim=1).tolist() if mask is not None else [x.shape[1]] * x.shape[0]
            pooled = torch.stack(
                [self._frames(x[i : i + 1, : int(n)], None)[0].float().mean(dim=1)[0] for i, n in enumerate(lengths)]
            )
        return self.head(pooled)

    def feature_key(self) -> str:
        """Hash of the model folder, `max_seconds`, and for a frozen model (features are its
        pooled states) `freeze`, `layer` and, when started from `weights`, its weights' sha256."""
        o: HFAudioOptions = self.options
        values: dict[str, Any] = {
            "encoder": "audio/hf",
            "version": FEATURE_VERSION,
            "model_sha256": self.model_sha256,
            "max_seconds": o.max_seconds,
            "frozen_layer": o.layer if o.freeze else None,
        }
        if o.freeze and o.weights is not None:
            self.require_weights()
            values["weights_sha256"] = self.weights_sha256()
        payload = json.dumps(values, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def get_extra_state(self) -> dict[str, Any]:
        """The model folder's path and sha256."""
        return {"model_path": str(self.model_path), "model_sha256": self.model_sha256}

    def set_extra_state(self, state: Any) -> None:
        """Refuse a checkpoint made with other model files than the ones loaded."""
        if not isinstance(state, dict) or "model_sha256" not in state:
            raise InputError(self.model_path, "the audio/hf checkpoint does not record its model's sha256")
        if state["model_sha256"] != self.model_sha256:
            raise InputError(
                self.model_path,
                f"model files differ from those the checkpoint was trained with (sha256 {self.model_sha256[:12]}… "
                f"here, {str(state['model_sha256'])[:12]}… in the checkpoint made with {state.get('model_path', '?')})",
            )


def _drop_frozen_backbone(module: HFAudio, state_dict: dict[str, Any], prefix: str, local_metadata: Any) -> None:
    """state_dict post-hook: frozen pretrained weights are the folder's, not the checkpoint's."""
    if not module.stores_backbone:
        for key in [k for k in state_dict if k.startswith(prefix + "backbone.")]:
            del state_dict[key]


def _fill_frozen_backbone(module: HFAudio, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """load_state_dict pre-hook: weights a frozen checkpoint left out come from the loaded folder."""
    if not module.stores_backbone:
        for key, value in module.backbone.state_dict(prefix=prefix + "backbone.").items():
            state_dict.setdefault(key, value)


def _forget_weights_sha256(module: HFAudio, *args: Any) -> None:
    """load_state_dict pre-hook: the model's weights may change, so their cached sha256 goes."""
    module.__dict__.pop("_weights_sha256", None)
