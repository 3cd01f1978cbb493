"""Tiny randomly initialised Hugging Face models saved to a folder, for tests that must load a
model by path with the network off (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import torch


def tiny_wav2vec2(folder: Path, *, layer_norm: bool = True) -> Path:
    """A 2-layer wav2vec 2.0 (hidden 32) and its feature extractor, randomly initialised."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(0)
    config = Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16, 16, 16),
        conv_stride=(5, 4, 4),
        conv_kernel=(10, 8, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer" if layer_norm else "group",
        do_stable_layer_norm=layer_norm,
        vocab_size=8,
    )
    Wav2Vec2Model(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=layer_norm, do_normalize=True).save_pretrained(
        folder
    )
    return folder
