"""attncast_torch.py - a PyTorch reference implementation of the attncast forecaster.

It computes exactly the model of MODEL.md (the same one src/nn/forecaster.c and
src/nn/attention.c compute), with the same parameter names, so an attncast checkpoint loads
into it with strict=True and gives the same forecast to float32 round-off:

    from attncast_torch import load_checkpoint
    model, mean, std, channels, config = load_checkpoint("runs/fx/best.h5")
    yhat = model(x)   # x: [B, L, C] scaled values, float32 -> [B, H, C] scaled
    point, quantiles = predict(model, x)   # what attncast shows: the median, sorted levels

A quantile model (model.quantiles) returns [B, H, C, Q] from model(x), the levels unsorted as
the head makes them (what the pinball loss scores); predict sorts them and takes the median.

A model with covariates (MODEL.md "Covariates": data.past_covariates, data.future_covariates,
data.calendar) takes x [B, L, C + Kp + Kf] (the C targets, the Kp past and the Kf future
covariate columns, calendar columns last, as attncast arranges a table) and, when Kf > 0, the
future covariates over the horizon: model(x, future) with future [B, H, Kf]; it forecasts the C
targets only. load_checkpoint's mean, std and channels then cover the targets and the real
covariates (/scaler), model.spec.channels counts the targets.

Needs torch and h5py (Debian: python3-torch python3-h5py); tools/torch_compare.py checks
parity against the real binary and benchmarks PyTorch training on the same shapes.
"""
import configparser
import dataclasses
import math

import torch
from torch import nn
import torch.nn.functional as F

REVIN_EPS = 1e-5
LN_EPS = 1e-5
COSINE_EPS = 1e-6
# What each attention kind adds to the block all kinds share, as its row in src/nn/attention.c
# says: (score function, score parameter, gate). The score functions are Attention.scores.
KINDS = {
    "additive": ("additive", "score_vec", False),
    "dot": ("dot", None, False),
    "gated": ("dot", None, True),
    "cosine": ("cosine", "log_tau", False),
}


@dataclasses.dataclass
class Spec:
    """The model-shaping keys of an attncast config (MODEL.md's symbols in comments)."""

    lookback: int  # L
    horizon: int  # H
    channels: int  # C, the data's channel count
    attention: str = "dot"
    d_model: int = 64  # d
    heads: int = 4  # h
    layers: int = 2
    d_ff: int = 128
    patch_len: int = 16  # P
    patch_stride: int = 8  # S
    channel_mode: str = "independent"  # or "mixed"
    revin: bool = True
    anchor: str = "mean"  # or "last" (MODEL.md version 2)
    causal: bool = False
    dropout: float = 0.1
    quantiles: tuple = ()  # model.quantiles (MODEL.md version 2); () for a point model
    past_covariates: int = 0  # Kp (MODEL.md version 2, Covariates)
    future_covariates: int = 0  # Kf, the calendar's columns included

    @property
    def out_width(self):  # Cout: C (mixed) or 1 (independent)
        return self.channels if self.channel_mode == "mixed" else 1

    @property
    def columns(self):  # what a step of x holds: C targets + Kp + Kf
        return self.channels + self.past_covariates + self.future_covariates

    @property
    def future_tokens(self):  # Nf, 0 without future covariates
        if not self.future_covariates:
            return 0
        return (self.horizon - self.patch_len) // self.patch_stride + 1

    @property
    def levels(self):  # Q, 1 for a point model
        return len(self.quantiles) or 1

    @property
    def tokens(self):  # N
        return (self.lookback - self.patch_len) // self.patch_stride + 1

    @property
    def in_width(self):  # Cin = Cout + Kp + Kf
        return self.out_width + self.past_covariates + self.future_covariates

    @classmethod
    def from_config(cls, cfg, channels):
        """From a configparser.ConfigParser holding attncast's resolved config text; channels is
        the number of targets (C)."""
        d, m = cfg["data"], cfg["model"]
        past, future_real, calendar = covariate_counts(cfg)
        return cls(
            lookback=d.getint("lookback"),
            horizon=d.getint("horizon"),
            channels=channels,
            attention=m.get("attention", "dot").strip(),
            d_model=m.getint("d_model"),
            heads=m.getint("heads"),
            layers=m.getint("layers"),
            d_ff=m.getint("d_ff"),
            patch_len=m.getint("patch_len"),
            patch_stride=m.getint("patch_stride"),
            channel_mode=m.get("channels", "independent").strip(),
            revin=m.getboolean("revin", True),
            anchor=m.get("anchor", "mean").strip(),  # a file without the key was trained on mean
            causal=m.getboolean("causal", False),
            dropout=m.getfloat("dropout", 0.1),
            quantiles=tuple(float(q) for q in m.get("quantiles", "").split(",") if q.strip()),
            past_covariates=past,
            future_covariates=future_real + calendar,
        )

    def check(self):
        if self.attention not in KINDS:
            raise ValueError(f"model.attention = {self.attention!r} has no PyTorch reference "
                             f"(tools/attncast_torch.py knows {', '.join(KINDS)})")
        if self.anchor not in ("mean", "last"):
            raise ValueError(f"model.anchor = {self.anchor!r}")
        if self.channel_mode not in ("independent", "mixed"):
            raise ValueError(f"model.channels = {self.channel_mode!r}")
        if self.d_model % self.heads:
            raise ValueError("model.d_model is not divisible by model.heads")
        if not 1 <= self.patch_len <= self.lookback or self.patch_stride < 1:
            raise ValueError("model.patch_len / patch_stride do not fit data.lookback")
        q = self.quantiles
        if q and (not all(0 < a < 1 for a in q) or any(b <= a for a, b in zip(q, q[1:]))
                  or 0.5 not in q or len(q) > 15):
            raise ValueError(f"model.quantiles = {q!r}: up to 15 increasing levels in (0, 1) "
                             "with 0.5")
        if self.past_covariates < 0 or self.future_covariates < 0:
            raise ValueError("the covariate counts must be >= 0")
        if self.future_covariates and self.patch_len > self.horizon:
            raise ValueError("future covariates need data.horizon >= model.patch_len")


def _names(text):
    """The names of a comma list as attncast counts them (spaces around the commas ignored)."""
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def covariate_counts(cfg):
    """(Kp, real future covariates, calendar columns) of a config: data.past_covariates,
    data.future_covariates, and 2 columns (sin, cos) per data.calendar feature."""
    d = cfg["data"] if cfg.has_section("data") else {}
    past = len(_names(d.get("past_covariates", "")))
    future = len(_names(d.get("future_covariates", "")))
    calendar = 2 * len(set(_names(d.get("calendar", ""))))
    return past, future, calendar


def patches(t, P, S):
    """MODEL.md step 2: t [ns, T, K] -> [ns, (T - P) // S + 1, P K], token n the flattened block
    t[:, n*S : n*S + P, :] (time-major)."""
    tokens = t.unfold(1, P, S)  # [ns, n, K, P]
    return tokens.transpose(2, 3).reshape(t.shape[0], tokens.shape[1], -1)


class Attention(nn.Module):
    """MODEL.md step 4, the attention sub-layer: projections, scores of the kind's score
    function, optional causal mask, softmax, A V, heads joined, the gate (kinds with one), the
    output projection."""

    def __init__(self, spec):
        super().__init__()
        d, h = spec.d_model, spec.heads
        self.score, param, self.gated = KINDS[spec.attention]
        self.heads, self.dh, self.causal = h, d // h, spec.causal
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)
        if self.gated:
            self.gate_proj = nn.Linear(d, d)
        if self.score == "additive":  # w_a, one vector per head
            setattr(self, param, nn.Parameter(torch.randn(h, d // h) * 0.02))
        elif self.score == "cosine":  # tau, one temperature per head
            setattr(self, param, nn.Parameter(torch.full((h,), math.log(10.0))))
        self.param = param

    def split(self, t):  # [ns, N, d] -> [ns, h, N, dh]; head j = columns j*dh .. (j+1)*dh - 1
        ns, N, _ = t.shape
        return t.reshape(ns, N, self.heads, self.dh).permute(0, 2, 1, 3)

    def scores(self, q, k):
        """s [ns, h, N, N] of the score function, for q, k [ns, h, N, dh]."""
        if self.score == "dot":  # q_i . k_k / sqrt(dh)
            return q @ k.transpose(-1, -2) / math.sqrt(self.dh)
        w = getattr(self, self.param)
        if self.score == "additive":  # s_ik = w_a[j] . tanh(q_i + k_k)
            t = torch.tanh(q.unsqueeze(3) + k.unsqueeze(2))  # [ns, h, N, N, dh]
            return (t * w[None, :, None, None, :]).sum(-1)
        if self.score == "cosine":  # exp(tau_j) (q_i . k_k) / (|q_i| |k_k| + 1e-6)
            dot = q @ k.transpose(-1, -2)
            qn, kn = q.norm(dim=-1, keepdim=True), k.norm(dim=-1, keepdim=True)
            s = dot / (qn @ kn.transpose(-1, -2) + COSINE_EPS)
            return s * torch.exp(w)[None, :, None, None]
        raise ValueError(f"no PyTorch reference for the {self.score!r} score")

    def forward(self, z, return_weights=False):
        q, k, v = self.split(self.q_proj(z)), self.split(self.k_proj(z)), self.split(self.v_proj(z))
        s = self.scores(q, k)
        if self.causal:
            N = s.shape[-1]
            mask = torch.ones(N, N, dtype=torch.bool, device=s.device).triu(1)
            s = s.masked_fill(mask, float("-inf"))
        a = torch.softmax(s, dim=-1)
        o = (a @ v).permute(0, 2, 1, 3).reshape(z.shape)  # heads joined back to [S, N, d]
        if self.gated:
            o = o * torch.sigmoid(self.gate_proj(z))
        o = self.out_proj(o)
        return (o, a) if return_weights else o


class Block(nn.Module):
    """One pre-norm residual block."""

    def __init__(self, spec):
        super().__init__()
        d = spec.d_model
        self.norm1 = nn.LayerNorm(d, eps=LN_EPS)
        self.attn = Attention(spec)
        self.norm2 = nn.LayerNorm(d, eps=LN_EPS)
        self.ff1 = nn.Linear(d, spec.d_ff)
        self.ff2 = nn.Linear(spec.d_ff, d)
        self.drop = nn.Dropout(spec.dropout)

    def forward(self, e):
        e = e + self.drop(self.attn(self.norm1(e)))
        return e + self.drop(self.ff2(F.gelu(self.ff1(self.norm2(e)))))  # exact erf gelu


class Forecaster(nn.Module):
    """forward(x [B, L, C] scaled) -> [B, H, C] scaled, or [B, H, C, Q] for a quantile model.
    With covariates: forward(x [B, L, C + Kp + Kf], future [B, H, Kf] when Kf > 0)."""

    def __init__(self, spec):
        super().__init__()
        spec.check()
        self.spec = spec
        d, N, Nf, cin = spec.d_model, spec.tokens, spec.future_tokens, spec.in_width
        self.input_proj = nn.Linear(spec.patch_len * cin, d)
        self.pos_embed = nn.Parameter(torch.randn(N, d) * 0.02)
        self.layers = nn.ModuleList(Block(spec) for _ in range(spec.layers))
        self.norm_f = nn.LayerNorm(d, eps=LN_EPS)
        # [H, Cout, Q] rows, over the N history tokens then the Nf future ones
        self.head = nn.Linear((N + Nf) * d, spec.horizon * spec.out_width * spec.levels)
        if spec.anchor == "last":  # the untrained model is the naive repeat
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        if Nf:  # future tokens: Ef = patches(F) Wf^T + bf + future_pos
            self.future_proj = nn.Linear(spec.patch_len * spec.future_covariates, d)
            self.future_pos = nn.Parameter(torch.randn(Nf, d) * 0.02)

    def forward(self, x, future=None):
        s = self.spec
        B, L, cols = x.shape
        C, Kf = s.channels, s.future_covariates
        if (L, cols) != (s.lookback, s.columns):
            raise ValueError(f"expected windows [B, {s.lookback}, {s.columns}], got {list(x.shape)}")
        if Kf and future is None:
            raise ValueError(f"this model has {Kf} future covariate columns; its forecasts need "
                             "their values over the horizon (future [B, H, Kf])")
        if not Kf and future is not None:
            raise ValueError("future values given to a model without future covariates")
        if future is not None and tuple(future.shape) != (B, s.horizon, Kf):
            raise ValueError(f"expected future covariates [{B}, {s.horizon}, {Kf}], "
                             f"got {list(future.shape)}")
        independent = s.channel_mode == "independent"
        targets = x[:, :, :C] if cols != C else x
        series = targets.permute(0, 2, 1).reshape(B * C, L, 1) if independent else targets
        if s.revin:  # instance norm: biased variance, eps 1e-5, no affine; constants of the graph
            with torch.no_grad():
                mu = series.mean(dim=1, keepdim=True)
                sigma = torch.sqrt(series.var(dim=1, unbiased=False, keepdim=True) + REVIN_EPS)
            series = (series - mu) / sigma
        # anchor = last, as MODEL.md writes it: a = the last step of the (z-scored) series,
        # z <- z - a, and at the end yhat <- yhat + a before undoing revin
        anchor = series[:, -1:, :].detach() if s.anchor == "last" else None
        if anchor is not None:
            series = series - anchor
        if cols != C:  # each step: [its targets, the Kp past, the Kf future covariates]
            series = torch.cat([series, self.per_series(x[:, :, C:])], dim=2)
        # patches, time-major: token n = series[:, n*S : n*S + P, :] flattened -> [S, N, P Cin]
        e = self.input_proj(patches(series, s.patch_len, s.patch_stride)) + self.pos_embed
        if future is not None:  # the Nf future tokens, after the N history tokens
            f = patches(self.per_series(future), s.patch_len, s.patch_stride)  # [S, Nf, P Kf]
            e = torch.cat([e, self.future_proj(f) + self.future_pos], dim=1)
        for block in self.layers:
            e = block(e)
        e = self.norm_f(e)
        y = self.head(e.reshape(e.shape[0], -1))
        if s.quantiles:  # [S, H, Cout, Q]; the anchor and revin act on every level alike
            y = y.reshape(e.shape[0], s.horizon, s.out_width, s.levels)
            if anchor is not None:
                anchor = anchor.unsqueeze(-1)
            if s.revin:
                mu, sigma = mu.unsqueeze(-1), sigma.unsqueeze(-1)
        else:
            y = y.reshape(e.shape[0], s.horizon, s.out_width)
        if anchor is not None:
            y = y + anchor
        if s.revin:
            y = y * sigma + mu
        if independent and s.quantiles:  # [B C, H, 1, Q] -> [B, C, H, Q] -> [B, H, C, Q]
            y = y.reshape(B, C, s.horizon, s.levels).permute(0, 2, 1, 3)
        elif independent:  # [B C, H, 1] -> [B, C, H] -> [B, H, C]
            y = y.reshape(B, C, s.horizon).permute(0, 2, 1)
        return y

    def per_series(self, t):
        """Covariate columns t [B, T, K] as the series see them: unchanged in mixed mode; in
        independent mode each of a window's C series gets that window's copy, [B C, T, K]
        (series b C + c, as the targets are laid out)."""
        if self.spec.channel_mode == "mixed":
            return t
        return t.repeat_interleave(self.spec.channels, dim=0)


def pinball_loss(pred, target, quantiles):
    """MODEL.md's pinball loss: pred [..., Q], target [...]; the mean over every output of
    max(q e, (q - 1) e), e = target - pred[..., j], q = quantiles[j]."""
    q = torch.tensor(quantiles, dtype=pred.dtype)
    e = target.unsqueeze(-1) - pred
    return torch.mean(torch.maximum(q * e, (q - 1) * e))


def forecast_loss(model, pred, target, kind="mse"):
    """The training loss of train.loss: pinball for a quantile model, else mse, mae or huber
    (delta 1)."""
    if model.spec.quantiles:
        return pinball_loss(pred, target, model.spec.quantiles)
    if kind == "mae":
        return F.l1_loss(pred, target)
    if kind == "huber":
        return F.huber_loss(pred, target, delta=1.0)
    return F.mse_loss(pred, target)


def predict(model, x, future=None):
    """Inference as attncast does it: (point [B, H, C], quantiles [B, H, C, Q] sorted ascending
    or None). A quantile model's point forecast is the q = 0.5 entry of the sorted levels.
    future: the future covariates [B, H, Kf] of a model that has them."""
    with torch.no_grad():
        y = model(x, future)
    if not model.spec.quantiles:
        return y, None
    q = torch.sort(y, dim=-1).values
    return q[..., model.spec.quantiles.index(0.5)], q


def _text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def read_config(path_or_text):
    """A configparser.ConfigParser from INI text (or an attncast checkpoint's /config)."""
    cfg = configparser.ConfigParser(inline_comment_prefixes=None, interpolation=None)
    cfg.read_string(path_or_text)
    return cfg


def load_checkpoint(path):
    """Loads an attncast checkpoint: (model in eval mode, scaler mean [C] float64, scaler std
    [C] float64, channel names, configparser config). The parameters load with strict=True.
    With covariates the scaler's entries (mean, std, names) are the C targets, then the real
    covariates (past, then future; calendar columns are not scaled, so not listed)."""
    import h5py
    import numpy as np

    with h5py.File(path, "r") as f:
        if _text(f.attrs.get("format", "")) != "attncast-checkpoint":
            raise ValueError(f"{path}: not an attncast checkpoint (no format attribute)")
        cfg = read_config(_text(f["config"][()]))
        mean = np.asarray(f["scaler/mean"][()], dtype=np.float64)
        std = np.asarray(f["scaler/std"][()], dtype=np.float64)
        channels = [_text(c) for c in f["scaler/channels"][()]]
        state = {name: torch.from_numpy(np.asarray(ds[()], dtype=np.float32))
                 for name, ds in f["params"].items()}
    past, future_real, _ = covariate_counts(cfg)
    targets = len(channels) - past - future_real
    if targets < 1:
        raise ValueError(f"{path}: /scaler/channels lists {len(channels)} columns, but /config "
                         f"names {past + future_real} real covariates and the targets come first")
    model = Forecaster(Spec.from_config(cfg, targets))
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, mean, std, channels, cfg


def preset_spec(preset, attention="dot"):
    """The shapes of `torch_compare.py bench --preset` (and of `attncast bench`)."""
    base = dict(lookback=96, horizon=96, patch_len=16, patch_stride=8,
                channel_mode="independent", revin=True, attention=attention)
    if preset == "small":
        return Spec(channels=8, d_model=64, heads=4, layers=2, d_ff=128, **base)
    if preset == "large":
        return Spec(channels=21, d_model=128, heads=8, layers=3, d_ff=256, **base)
    raise ValueError(f"unknown preset {preset!r} (small, large)")
