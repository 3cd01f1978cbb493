"""The `dcca` objective: deep CCA (Andrew et al. 2013; Yu et al. for audio and lyrics), whose
implementation is the core's `ugaar_kit.toolkit.deep_cca` (UGAAR composes the same class)."""

from __future__ import annotations

from ugaar_kit.toolkit.deep_cca import DCCAOptions
from ugaar_kit.toolkit.deep_cca import DeepCCA as DeepCCAPart

__all__ = ["DCCAOptions", "DeepCCA"]


class DeepCCA(DeepCCAPart):
    """Deep CCA: maximise the total canonical correlation of the views."""

    name = "dcca"
    description = "Deep CCA: maximise the total canonical correlation (sum over pairs or MAX-VAR GCCA)"
    default_modalities = ("audio", "lyrics")
