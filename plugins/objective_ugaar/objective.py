"""UGAAR: unsupervised generative adversarial alignment representation (Zeng, Yu, Oyama 2020).

Our reading of the abstract (docs/methods.md gives the formulas and the choices we made):

1. Ground truth. The audio and sheet branches are trained by an audio-sheet objective
   (`ground_truth`: deep CCA, or InfoNCE on their L2-normalised outputs), and the linear CCA of
   the space that objective trains gives the canonical variates `c_a = (x_a - mu_a) W_a`,
   `c_s = (x_s - mu_s) W_s` (`k` components, unit variance; `x` the outputs, normalised for
   InfoNCE). The deep CCA loss is `dcca`'s, step for step (the covariance of the
   earlier batches mixed with the batch's); then the batch joins the running (EMA) statistics,
   `W` is re-solved from them, and refined on the whole training set by `fit`. Canonical
   directions with near-equal correlations are defined only up to a rotation, so each new
   solution is rotated (orthogonal Procrustes) to the previous one: the space is the CCA space,
   and its axes stay put while training goes.
2. Transfer. A lyrics head maps the lyrics encoder's output to `t_l` (`k` dims), trained to
   correlate, component by component, with `c_a` (audio-lyrics) and `c_s` (sheet-lyrics). The
   targets are detached by default: lyrics learn the audio-sheet space, they cannot bend it.
3. Generator `G(t_l, noise) -> (g_a, g_s)`: an audio-sheet pair for a fixed lyrics input, trained
   to fool the discriminator and to land near the real pair of the same passage.
4. Discriminator `D(pair | t_l)` (spectral norm): the CCA pair `(c_a, c_s)` of the passage is
   real, `G`'s pair is fake. `D` has its own optimizer; `d_steps` updates of `D` per update of
   the rest.

Inference: audio -> `c_a`, sheet -> `c_s`, lyrics -> the mean of `G`'s pair with zero noise,
all in the `k`-dimensional canonical space.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ugaar_kit.errors import OptionError, UgaarError
from ugaar_kit.infra.distributed import gather_views
from ugaar_kit.interfaces.objective import Objective, Optimizers, Views
from ugaar_kit.interfaces.options import option
from ugaar_kit.toolkit.cca import joint_covariance, require_rows
from ugaar_kit.toolkit.deep_cca import DCCAOptions, DeepCCA
from ugaar_kit.toolkit.infonce import info_nce

PAIR = ("audio", "sheet")


@dataclass(frozen=True)
class UGAAROptions:
    ground_truth: Literal["contrastive", "dcca"] = option(
        "contrastive",
        "what trains the audio and sheet branches whose CCA is the ground truth: deep CCA, or InfoNCE on "
        "their L2-normalised outputs (the contrastive objective's loss, learnt temperature)",
    )
    temperature: float = option(
        0.07,
        "initial InfoNCE temperature of the contrastive ground truth (learnt, clamped at 0.01)",
        min=1e-2,
        max=10.0,
    )
    shared_dim: int | None = option(
        None, "k, the components of the audio-sheet CCA space (default: the narrower of the two)", min=1
    )
    rho_power: float | None = option(
        None,
        "weight the ground truth's canonical components by rho^p (their correlation to a power; Gong et al. "
        "2014), so cosine retrieval is not drowned by the weakly correlated ones; 0 = unit-variance variates; "
        "default 1 with the contrastive ground truth, 0 with deep CCA",
        min=0.0,
        max=8.0,
    )
    r1: float = option(1e-3, "ridge added to the audio covariance", min=0.0)
    r2: float = option(1e-3, "ridge added to the sheet covariance", min=0.0)
    momentum: float = option(
        0.05, "weight of a batch in the running statistics of the ground-truth CCA", min=1e-6, max=1.0
    )
    batch_weight: float = option(
        0.05, "weight of the batch covariance in the deep CCA term, the rest from the running one", min=1e-6, max=1.0
    )
    rank_weight: float = option(
        0.0, "weight of the audio-sheet ranking loss in the CCA space (dcca's rank_weight)", min=0.0
    )
    margin: float = option(0.5, "margin of that ranking loss (cosine)", min=0.0, max=2.0)
    cca_weight: float = option(1.0, "weight of the audio-sheet term (deep CCA, or InfoNCE)", min=0.0)
    transfer_weight: float = option(1.0, "weight of each transfer term (audio-lyrics, sheet-lyrics)", min=0.0)
    adversarial_weight: float = option(0.1, "weight of the generator's adversarial term", min=0.0)
    pairing_weight: float = option(1.0, "weight of the generator's distance to the real pair of the passage", min=0.0)
    detach_targets: bool = option(
        True, "transfer and pairing targets carry no gradient into the audio and sheet branches"
    )
    noise_dim: int = option(16, "noise fed to the generator with the lyrics code", min=0)
    hidden: int = option(256, "hidden width of the generator and the discriminator", min=8)
    d_lr: float = option(2e-4, "discriminator learning rate (Adam, betas 0.5/0.999)", min=0.0)
    d_steps: int = option(1, "discriminator updates per generator update", min=1)
    conditional: bool = option(True, "the discriminator also sees the lyrics code (tells mismatched pairs too)")
    refit: bool = option(True, "fit() re-solves the CCA on the whole training set (aligning the generator to it)")

    LEGACY: ClassVar[dict[str, Any]] = {"ground_truth": "dcca", "temperature": 0.07, "rho_power": None}
    """What runs saved before these options existed trained with: a deep CCA ground truth."""


def correlation_loss(x: Tensor, y: Tensor, eps: float = 1e-6) -> Tensor:
    """`1 - mean_j corr(x[:, j], y[:, j])` over a batch of `(B, k)` rows: 0 when every component
    of `x` is perfectly correlated with the same component of `y`."""
    xc = x - x.mean(dim=0, keepdim=True)
    yc = y - y.mean(dim=0, keepdim=True)
    corr = (xc * yc).sum(0) / (xc.norm(dim=0) * yc.norm(dim=0) + eps)
    return 1.0 - corr.mean()


class Generator(nn.Module):
    """`(t_l (B, k), noise (B, n)) -> (g_a, g_s)`, each `(B, k)`."""

    def __init__(self, k: int, noise_dim: int, hidden: int) -> None:
        super().__init__()
        self.k, self.noise_dim = k, noise_dim
        self.net = nn.Sequential(
            nn.Linear(k + noise_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 2 * k),
        )

    def forward(self, code: Tensor, noise: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if noise is None:
            noise = code.new_zeros(code.shape[0], self.noise_dim)
        out = self.net(torch.cat([code, noise], dim=1))
        return out[:, : self.k], out[:, self.k :]


class Discriminator(nn.Module):
    """`(c_a, c_s[, t_l]) -> (B,)` logits, real pair high. Spectral norm on every layer."""

    def __init__(self, k: int, hidden: int, conditional: bool) -> None:
        super().__init__()
        self.conditional = conditional
        width = 3 * k if conditional else 2 * k
        self.net = nn.Sequential(
            spectral_norm(nn.Linear(width, hidden)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Linear(hidden, hidden)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Linear(hidden, 1)),
        )

    def forward(self, a: Tensor, s: Tensor, code: Tensor) -> Tensor:
        parts = [a, s, code] if self.conditional else [a, s]
        return self.net(torch.cat(parts, dim=1)).squeeze(1)


class UGAAR(Objective):
    """Three branches: audio-sheet deep CCA as ground truth, lyrics transferred into it and
    aligned by a conditional GAN."""

    name = "ugaar"
    description = "UGAAR: audio-sheet CCA ground truth, lyrics transfer, adversarial pair generator"
    Options = UGAAROptions
    n_views = (3,)
    requires = frozenset({"audio", "sheet", "lyrics"})
    default_modalities = ("audio", "sheet", "lyrics")

    def __init__(self, options: UGAAROptions | None, dims):
        super().__init__(options, dims)
        o: UGAAROptions = self.options
        narrow = min(self.dims["audio"], self.dims["sheet"])
        k = o.shared_dim or narrow
        if k > narrow:
            raise OptionError(f"option 'objective.shared_dim': {k} is above the narrower audio/sheet width {narrow}")
        self.k = k
        if o.ground_truth == "contrastive":
            if self.dims["audio"] != self.dims["sheet"]:
                raise OptionError(
                    f"objective 'ugaar': ground_truth=contrastive needs audio and sheet encoders of one width "
                    f"(audio {self.dims['audio']}, sheet {self.dims['sheet']})"
                )
            self.log_scale = nn.Parameter(torch.tensor(math.log(1 / o.temperature)))
        gt_options = DCCAOptions(
            r1=o.r1,
            r2=o.r2,
            shared_dim=k,
            momentum=o.momentum,
            batch_weight=o.batch_weight,
            rank_weight=o.rank_weight,
            margin=o.margin,
        )
        self.ground_truth = DeepCCA(gt_options, {m: self.dims[m] for m in PAIR})
        self.lyrics_head = nn.Linear(self.dims["lyrics"], k)
        self.generator = Generator(k, o.noise_dim, o.hidden)
        self.discriminator = Discriminator(k, o.hidden, o.conditional)
        # The ground-truth maps `(z - mean_m) @ weight_m`, Procrustes-aligned across refreshes.
        for m in PAIR:
            self.register_buffer(f"mean_{m}", torch.zeros(self.dims[m], dtype=torch.float64))
            self.register_buffer(f"weight_{m}", torch.zeros(self.dims[m], k, dtype=torch.float64))
        self.register_buffer("ready", torch.tensor(False))

    @property
    def shared_dim(self) -> int:
        return self.k

    @property
    def contrastive(self) -> bool:
        return self.options.ground_truth == "contrastive"

    @property
    def rho_power(self) -> float:
        """`rho_power`, or its default for the ground truth (1 with InfoNCE, 0 with deep CCA)."""
        if self.options.rho_power is not None:
            return float(self.options.rho_power)
        return 1.0 if self.contrastive else 0.0

    @property
    def min_batch(self) -> int:
        """Deep CCA needs more rows than the wider of audio and sheet; InfoNCE two."""
        return 2 if self.contrastive else max(self.dims[m] for m in PAIR) + 1

    @property
    def default_batch(self) -> int | None:  # type: ignore[override]
        """The contrastive objective's 128 with an InfoNCE ground truth; else the trainer's choice
        from `min_batch`."""
        return 128 if self.contrastive else None

    @property
    def logit_scale(self) -> Tensor:
        """1 / temperature of the contrastive ground truth, clamped at 100 (CLIP)."""
        return self.log_scale.exp().clamp(max=100.0)

    def parameter_groups(self) -> dict[str, dict]:
        return {
            "discriminator": {
                "params": list(self.discriminator.parameters()),
                "lr": self.options.d_lr,
                "betas": (0.5, 0.999),
            }
        }

    # -- the pieces ---------------------------------------------------------------------

    def _space(self, views: Views) -> Views:
        """The audio and sheet outputs in the space the ground truth is the CCA of: as they are
        for deep CCA, L2-normalised (InfoNCE's cosine space) for the contrastive ground truth."""
        if self.contrastive:
            return {m: F.normalize(views[m].float(), dim=-1) for m in PAIR}
        return {m: views[m] for m in PAIR}

    def _pair_terms(self, views: Views, training: bool = False) -> dict[str, Tensor]:
        """The audio-sheet objective on a batch: `{"objective": ..., logged terms}`. Deep CCA is
        `dcca`'s loss (with `training`, the running statistics mixed in); InfoNCE is symmetric,
        over the batch, with the learnt logit scale."""
        if not self.contrastive:
            return self.ground_truth.batch_loss({m: views[m] for m in PAIR}, training=training)
        z = self._space(views)
        with torch.autocast(device_type=z["audio"].device.type, enabled=False):
            scale = self.logit_scale
            nce = info_nce(z["audio"], z["sheet"], scale)
        return {"objective": nce, "nce/audio-sheet": nce.detach(), "logit_scale": scale.detach()}

    @torch.no_grad()
    def _set_ground_truth(self, means: dict[str, Tensor], weights: dict[str, Tensor], rho: Tensor) -> None:
        """Store a CCA solution, each component weighted by `rho ** rho_power`, rotated to best
        match the previous one (orthogonal Procrustes on the stacked audio and sheet weights); a
        common rotation leaves the variates' covariances and every audio-sheet similarity
        unchanged."""
        scale = rho.to(torch.float64).clamp(min=0.0) ** self.rho_power
        new = torch.cat([weights[m] for m in PAIR], dim=0) * scale
        if bool(self.ready):
            old = torch.cat([getattr(self, f"weight_{m}") for m in PAIR], dim=0)
            u, _, vh = torch.linalg.svd(new.T @ old)
            new = new @ (u @ vh)
        start = 0
        for m in PAIR:
            d = self.dims[m]
            getattr(self, f"mean_{m}").copy_(means[m])
            getattr(self, f"weight_{m}").copy_(new[start : start + d])
            start += d
        self.ready.fill_(True)

    @torch.no_grad()
    def _start(self, pair: Views) -> None:
        """Before the first step: the ground truth is the CCA of this batch alone."""
        space = self._space(pair)
        x = torch.cat([space[m].detach().to(torch.float64) for m in PAIR], dim=1)
        self._set_ground_truth(*self.ground_truth.solve(x.mean(dim=0), joint_covariance([x])))

    @torch.no_grad()
    def _refresh(self, pair: Views) -> None:
        """Fold a batch into the running statistics and re-solve the ground-truth CCA."""
        gt = self.ground_truth
        space = self._space(pair)
        gt.update_running({m: space[m].detach() for m in PAIR})
        self._set_ground_truth(*gt.solve(gt.running_mean, gt.running_cov))

    def _ground_truth(self, modality: str, z: Tensor) -> Tensor:
        """Canonical variates `(B, k)` of a point `z` of the ground truth's space (see `_space`)."""
        mean = getattr(self, f"mean_{modality}")
        weight = getattr(self, f"weight_{modality}")
        return ((z.to(torch.float64) - mean) @ weight).to(z.dtype)

    def _targets(self, views: Views) -> tuple[Tensor, Tensor]:
        """The ground-truth pair `(c_a, c_s)` from the current CCA solution, `(B, k)` each."""
        space = self._space(views)
        a = self._ground_truth("audio", space["audio"])
        s = self._ground_truth("sheet", space["sheet"])
        if self.options.detach_targets:
            a, s = a.detach(), s.detach()
        return a, s

    def _noise(self, code: Tensor) -> Tensor:
        return torch.randn(code.shape[0], self.options.noise_dim, device=code.device, dtype=code.dtype)

    def _discriminator_loss(self, real: tuple[Tensor, Tensor], code: Tensor) -> dict[str, Tensor]:
        code = code.detach()
        with torch.no_grad():
            fake = self.generator(code, self._noise(code))
        d_real = self.discriminator(real[0].detach(), real[1].detach(), code)
        d_fake = self.discriminator(fake[0], fake[1], code)
        loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        return {"d/loss": loss, "d/real": torch.sigmoid(d_real).mean(), "d/fake": torch.sigmoid(d_fake).mean()}

    def _main_loss(self, views: Views, cca_terms: dict[str, Tensor]) -> dict[str, Tensor]:
        """Everything but the discriminator's own loss: the audio-sheet terms given
        (`_pair_terms`), transfer and generator terms."""
        o: UGAAROptions = self.options
        out = dict(cca_terms)
        cca = out.pop("objective")
        c_a, c_s = self._targets(views)
        code = self.lyrics_head(views["lyrics"])
        transfer_a = correlation_loss(code, c_a)
        transfer_s = correlation_loss(code, c_s)
        g_a, g_s = self.generator(code, self._noise(code))
        adversarial = F.softplus(-self.discriminator(g_a, g_s, code)).mean()
        pairing = (g_a - c_a).pow(2).mean() + (g_s - c_s).pow(2).mean()
        total = (
            o.cca_weight * cca
            + o.transfer_weight * (transfer_a + transfer_s)
            + o.adversarial_weight * adversarial
            + o.pairing_weight * pairing
        )
        out.update(
            {
                "cca": cca,
                "transfer/audio-lyrics": transfer_a,
                "transfer/sheet-lyrics": transfer_s,
                "g/adversarial": adversarial,
                "g/pairing": pairing,
                "objective": total,
            }
        )
        return out

    def _check(self, views: Views) -> None:
        if self.contrastive:
            return
        require_rows(
            int(views["audio"].shape[0]), max(self.dims[m] for m in PAIR), "objective 'ugaar' (audio-sheet CCA)"
        )

    # -- the Objective protocol ---------------------------------------------------------

    def loss(self, views: Views) -> dict[str, Tensor]:
        """All terms on one batch, the discriminator's included, without any update."""
        full = gather_views(views)
        self._check(full)
        if not bool(self.ready):
            self._start(full)
        out = self._main_loss(full, self._pair_terms(full))
        code = self.lyrics_head(full["lyrics"])
        out.update(self._discriminator_loss(self._targets(full), code))
        return out

    def training_step(self, views: Views, optimizers: Optimizers) -> dict[str, float]:
        """The audio-sheet term (deep CCA from the statistics of the earlier batches, exactly
        `dcca`'s; or InfoNCE), then the batch joins the running statistics and the ground truth
        is re-solved; `d_steps` discriminator updates; one update of the encoders, the lyrics
        head and the generator."""
        full = gather_views(views)
        self._check(full)
        cca_terms = self._pair_terms(full, training=True)
        self._refresh(full)
        logged: dict[str, float] = {}
        real = self._targets({m: full[m].detach() for m in PAIR})
        for _ in range(self.options.d_steps):
            code = self.lyrics_head(full["lyrics"]).detach()
            d = self._discriminator_loss(real, code)
            optimizers.step("discriminator", d["d/loss"])
            logged.update({k: float(v.detach()) for k, v in d.items()})
        out = self._main_loss(full, cca_terms)
        optimizers.step("main", out["objective"])
        logged.update({k: float(v.detach()) for k, v in out.items()})
        return logged

    @torch.no_grad()
    def fit(self, views: Views) -> None:
        """Refine the ground truth: CCA on the whole training set, rotated onto the running one."""
        if not self.options.refit and bool(self.ready):
            return
        full = gather_views(views)
        self.ground_truth.fit(self._space(full))
        fitted = self.ground_truth.projections
        means = {m: getattr(fitted, f"mean_{m}") for m in PAIR}
        weights = {m: getattr(fitted, f"weight_{m}") for m in PAIR}
        self._set_ground_truth(means, weights, fitted.correlations)

    def project(self, modality: str, z: Tensor) -> Tensor:
        """audio/sheet: canonical variates; lyrics: the mean of the generated pair (zero noise)."""
        if not bool(self.ready):
            raise UgaarError("objective 'ugaar': project() needs fit() or at least one training step")
        if modality in PAIR:
            if self.contrastive:
                z = F.normalize(z.float(), dim=-1)
            return self._ground_truth(modality, z)
        if modality != "lyrics":
            raise ValueError(f"objective 'ugaar' has no modality '{modality}'")
        g_a, g_s = self.generator(self.lyrics_head(z))
        return 0.5 * (g_a + g_s)
