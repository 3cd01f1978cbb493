"""The checks behind `ugaar_kit.testing`: shapes, dtype, gradients, options and save/load."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ugaar_kit.interfaces import options as opts
from ugaar_kit.interfaces.encoder import Encoder
from ugaar_kit.interfaces.objective import Objective, Optimizers
from ugaar_kit.interfaces.state import encoder_state, restore_encoder


def _roundtrip(obj: Any) -> Any:
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def check_encoder(
    factory: Callable[[], Encoder],
    raws: Sequence[Any],
    *,
    check_padding: bool = True,
    atol: float = 1e-5,
) -> Encoder:
    """Check an encoder on a few raw items (at least two, ideally of different lengths).

    Checks: `fit` when needed; `featurize` is deterministic; output is `(B, output_dim)`
    float32 and finite; gradients reach trainable parameters and no frozen one (an encoder with
    no parameters at all, a fixed-feature one, skips that); options survive a round trip; a `weights_only` save/load round trip gives identical embeddings;
    with `check_padding`, an item's embedding does not change when a longer item pads it.
    Returns the fitted encoder for further checks."""
    assert len(raws) >= 2, "check_encoder needs at least two raw items"
    torch.manual_seed(0)
    enc = factory()
    assert isinstance(enc, Encoder), f"factory returned {type(enc).__name__}, not an Encoder"
    if enc.needs_fit:
        assert not enc.is_fitted, "an encoder with needs_fit reports is_fitted before fit()"
        enc.fit(list(raws))
    assert enc.is_fitted, "encoder is not fitted after fit()"

    feats = [enc.featurize(r) for r in raws]
    again = [enc.featurize(r) for r in raws]
    for a, b in zip(feats, again):
        assert torch.equal(a, b), "featurize is not deterministic"

    enc.train()
    out = enc(enc.collate(feats))
    assert out.shape == (len(raws), enc.output_dim), (
        f"output shape {tuple(out.shape)} != ({len(raws)}, {enc.output_dim})"
    )
    assert out.dtype == torch.float32, f"output dtype {out.dtype} is not float32"
    assert torch.isfinite(out).all(), "output has NaN or inf"
    if any(True for _ in enc.parameters()):  # a fixed-feature encoder (no parameters) has nothing to train
        out.pow(2).mean().backward()
        trainable = [(n, p) for n, p in enc.named_parameters() if p.requires_grad]
        assert trainable, "encoder has no trainable parameters"
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for _, p in trainable), (
            "no gradient reaches any trainable parameter"
        )
        for n, p in trainable:
            assert p.grad is None or torch.isfinite(p.grad).all(), f"gradient of {n} is not finite"
        for n, p in enc.named_parameters():
            if not p.requires_grad:
                assert p.grad is None, f"frozen parameter {n} received a gradient"

    rebuilt = opts.build(type(enc.options), opts.to_dict(enc.options))
    assert rebuilt == enc.options, "options do not survive to_dict/build"

    enc.eval()
    with torch.no_grad():
        ref = enc(enc.collate(feats))
        state = _roundtrip(encoder_state(enc))
        twin = restore_encoder(state, type(enc)).eval()
        twin_feats = [twin.featurize(r) for r in raws]
        for a, b in zip(feats, twin_feats):
            assert torch.equal(a, b), "featurize differs after save/load"
        got = twin(twin.collate(twin_feats))
        assert torch.allclose(ref, got, atol=atol), "embeddings differ after save/load"

        if check_padding:
            lengths = [int(f.shape[-1]) for f in feats]
            short = min(range(len(feats)), key=lengths.__getitem__)
            alone = enc(enc.collate([feats[short]]))
            assert torch.allclose(alone[0], ref[short], atol=1e-4), (
                "an item's embedding changes when padded in a batch: the mask is not respected"
            )
    return enc


def check_objective(
    cls: type[Objective],
    dims: Mapping[str, int],
    values: Mapping[str, Any] | None = None,
    *,
    batch: int = 64,
) -> Objective:
    """Check an objective on random views of widths `dims` (e.g. `{"audio": 8, "sheet": 8}`).

    Checks: the wrong number of modalities raises ValueError; `loss` returns a finite scalar
    `"objective"` with finite gradients; `training_step` returns floats and changes the
    encoders' parameters (leaves them alone when `cls.trainable` is False); after `fit`,
    `project` gives `(B, shared_dim)`; a `weights_only` state round trip gives the same
    projections."""
    torch.manual_seed(0)
    obj = cls.from_options(dict(values or {}), dims)
    wrong = {f"m{i}": 4 for i in range(max(cls.n_views) + 1)}
    try:
        cls.check_modalities(wrong)
    except ValueError:
        pass
    else:
        raise AssertionError(f"{cls.name} accepted {len(wrong)} modalities")

    inputs = {m: torch.randn(batch, 16) for m in dims}
    linears = {m: nn.Linear(16, d) for m, d in dims.items()}
    encoders = nn.ModuleDict(linears)
    views = {m: encoders[m](x) for m, x in inputs.items()}
    out = obj.loss(views)
    assert "objective" in out, "loss() must return an 'objective' entry"
    assert out["objective"].ndim == 0, "the objective must be a scalar"
    assert torch.isfinite(out["objective"]), "the objective is not finite"
    out["objective"].backward()
    for m in dims:
        grad = linears[m].weight.grad
        assert grad is not None and torch.isfinite(grad).all(), f"no finite gradient reaches the {m} branch"

    groups = obj.parameter_groups()
    claimed = {id(p) for g in groups.values() for p in g["params"]}
    main_params = list(encoders.parameters()) + [p for p in obj.parameters() if id(p) not in claimed]
    optimizers = {"main": torch.optim.Adam(main_params, lr=1e-2)}
    for name, g in groups.items():
        settings = {k: v for k, v in g.items() if k != "params"}
        optimizers[name] = torch.optim.Adam(g["params"], **settings)
    before = [p.detach().clone() for p in encoders.parameters()]
    logged = obj.training_step({m: encoders[m](x) for m, x in inputs.items()}, Optimizers(optimizers))
    assert all(isinstance(v, float) for v in logged.values()), "training_step must return floats"
    changed = any(not torch.equal(a, b) for a, b in zip(before, encoders.parameters()))
    if cls.trainable:
        assert changed, "training_step did not update the encoders"
    else:
        assert not changed, "training_step of an objective with trainable=False changed the encoders"

    with torch.no_grad():
        final = {m: encoders[m](x) for m, x in inputs.items()}
        obj.fit(final)
        projected = {m: obj.project(m, z) for m, z in final.items()}
        for m, z in projected.items():
            assert z.shape == (batch, obj.shared_dim), (
                f"project('{m}') gave {tuple(z.shape)}, expected ({batch}, {obj.shared_dim})"
            )
            assert torch.isfinite(z).all(), f"project('{m}') is not finite"
        twin = cls.from_options(dict(values or {}), dims)
        twin.load_state_dict(_roundtrip(obj.state_dict()))
        for m, z in final.items():
            assert torch.allclose(twin.project(m, z), projected[m], atol=1e-5), (
                f"project('{m}') differs after a state round trip"
            )
    return obj
