"""Chapter 8 exercises — distribution shift: importance weights, label-shift estimation (BBSE),
re-weighting a classifier's posteriors, the Page–Hinkley drift detector.

No library computes these, so each exercise's reference is the project's own solution.

One chapter's exercises, kept in one module like every chapter's; its length is the hand-built
cases and probes of its four exercises.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from divelab.exercises.spec import DTYPE, Case, Exercise, Hint, as_tensor, randn

# ---- importance weights ---------------------------------------------------------------------------


def _weights_case(name: str, n_train: int, n_test: int, shape: tuple[int, ...], scale: float = 2.0,
                  max_weight: float | None = None) -> Case:
    """Logits ``log(n_test / n_train) + N(0, scale²)``: what a domain classifier trained on
    those sample sizes gives, so the weights straddle 1 (and ``max_weight``)."""
    prior = math.log(n_test / n_train)
    return Case(name, lambda g: {"test_logit": prior + randn(g, *shape, scale=scale),
                                 "n_train": n_train, "n_test": n_test, "max_weight": max_weight})


def _weights_cases() -> list[Case]:
    return [
        _weights_case("equal domain sizes n_train = n_test = 500, not clipped", 500, 500, (200,)),
        _weights_case("unequal domain sizes n_train = 3000, n_test = 1000, not clipped", 3000, 1000, (50,)),
        _weights_case("unequal domain sizes n_train = 1000, n_test = 4000, logits of shape (8, 16), not clipped",
                      1000, 4000, (8, 16)),
        _weights_case("clipped at max_weight = 5, n_train = 3000, n_test = 1000", 3000, 1000, (100,), max_weight=5.0),
        _weights_case("clipped at max_weight = 0.5 (most weights clipped), n_train = n_test = 200", 200, 200, (60,),
                      max_weight=0.5),
        Case("large logits (z from −40 to 40), n_train = 200, n_test = 100, not clipped",
             lambda g: {"test_logit": torch.linspace(-40, 40, 41, dtype=DTYPE) + randn(g, 41, scale=0.1),
                        "n_train": 200, "n_test": 100, "max_weight": None}),
        _weights_case("a single logit (0-d tensor), n_train = 10, n_test = 30, not clipped", 10, 30, ()),
    ]


def _output_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """The returned tensor itself (no gradients: the weights and corrected posteriors are used as constants)."""
    return {"output": as_tensor(fn(**args))}


IMPORTANCE_WEIGHTS = Exercise(
    name="importance-weights", chapter=8, title="covariate-shift importance weights from a domain classifier",
    difficulty="easy", entry="importance_weights",
    signature="def importance_weights(test_logit: Tensor, n_train: int, n_test: int, "
              "max_weight: float | None = None) -> Tensor:",
    task='''Importance weights β(x) = p_test(x) / p_train(x) for training under covariate shift.

    A classifier trained to tell training inputs (label 0) from test inputs (label 1) gives the
    log-odds z(x) = log P(test|x) / P(train|x). Having seen n_test test and n_train training
    inputs, its odds are (n_test / n_train) · p_test(x) / p_train(x), so by Bayes

        β(x) = (n_train / n_test) · P(test|x) / P(train|x) = (n_train / n_test) · exp(z(x)),

    then clipped, β ← min(β, max_weight), so that a few huge weights do not dominate the
    weighted loss Σ_i β(x_i) ℓ(f(x_i), y_i). max_weight=None: no clipping.

    test_logit: z, any shape (float64). Returns β, of test_logit's shape and dtype.
    Allowed: any tensor operations (torch.exp, torch.clamp, …).''',
    solution="divelab.analysis.shift:importance_weights",
    probe=_output_probe, cases=_weights_cases,
    hints=(
        Hint("importance-weights-precision", "for large logits 1 − σ(z) rounds to 0 (or to a few ulps), so "
             "σ(z) / (1 − σ(z)) is inf or imprecise: the odds are exp(z) itself — compute that directly",
             case="large logits"),
        Hint("importance-weights-odds", "β is built from the odds P(test|x) / P(train|x) = exp(z), not from the "
             "probability P(test|x) = σ(z); z is the log-odds of *test*, so not exp(−z) either",
             case="n_train = n_test"),
        Hint("importance-weights-clip", "clip the final weight, after the n_train / n_test factor: "
             "β = min((n_train / n_test) · exp(z), max_weight) — an upper bound only", case="clipped at"),
        Hint("importance-weights-prior", "multiply by n_train / n_test (not n_test / n_train, and not left out): "
             "the classifier's odds carry the prior odds n_test / n_train of its training data, "
             "which the weight must undo", case="unequal domain sizes"),
    ),
)

# ---- label shift (BBSE) ---------------------------------------------------------------------------


def _distribution(g: torch.Generator, k: int, floor: float) -> Tensor:
    """A random distribution over k classes whose every entry is at least ``floor / (floor + 1) / k``."""
    weights = floor + torch.rand(k, generator=g, dtype=DTYPE)
    return weights / weights.sum()


def _joint_confusion(g: torch.Generator, k: int, kind: str) -> Tensor:
    """``C_ij = P(ŷ=i, y=j)`` of a classifier much better than chance (so C is well-conditioned):
    ``P(ŷ|y) = 0.7 I + 0.3 R`` with R column-stochastic, times a prior p(y) ≥ 1/(3k); or a
    symmetric one (diagonally dominant), or a perfect classifier's ``diag(p)``."""
    if kind == "symmetric":
        s = torch.rand(k, k, generator=g, dtype=DTYPE)
        s = s + s.T + 4 * k * torch.eye(k, dtype=DTYPE)
        return s / s.sum()
    p = _distribution(g, k, floor=0.5)
    if kind == "diagonal":
        return torch.diag(p)
    r = torch.rand(k, k, generator=g, dtype=DTYPE)
    conditional = 0.7 * torch.eye(k, dtype=DTYPE) + 0.3 * r / r.sum(0)
    return conditional * p


def _label_shift_case(name: str, k: int, kind: str = "general", shifted: bool = True) -> Case:
    """μ = C w for a true w = q / p with q ≥ 1/(6k): the exact solve is positive and recovers it."""
    def make(g: torch.Generator) -> dict[str, Any]:
        confusion = _joint_confusion(g, k, kind)
        w = _distribution(g, k, floor=0.2) / confusion.sum(0) if shifted else torch.ones(k, dtype=DTYPE)
        return {"confusion": confusion, "target_mean": confusion @ w}
    return Case(name, make)


def _label_shift_cases() -> list[Case]:
    return [
        _label_shift_case("symmetric confusion matrix, 3 classes", 3, "symmetric"),
        _label_shift_case("perfect classifier (diagonal confusion matrix), 4 classes", 4, "diagonal"),
        _label_shift_case("3 classes", 3),
        _label_shift_case("2 classes", 2),
        _label_shift_case("6 classes", 6),
        _label_shift_case("no shift (μ = P_source(ŷ), so w = 1), 4 classes", 4, shifted=False),
    ]


def _label_shift_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    result = fn(**args)
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError("return the pair (w, q)")
    w, q = result
    return {"w": as_tensor(w), "q": as_tensor(q)}


LABEL_SHIFT = Exercise(
    name="label-shift", chapter=8, title="black-box shift estimation (BBSE) of the target's label distribution",
    difficulty="medium", entry="estimate_label_shift",
    signature="def estimate_label_shift(confusion: Tensor, target_mean: Tensor) -> tuple[Tensor, Tensor]:",
    task='''Black-box shift estimation (Lipton, Wang & Smola, 2018): the target's class distribution q(y)
    from a fixed classifier's predictions, under label shift (p(x|y) the same in source and target).

    confusion:   C_ij = P_source(ŷ = i, y = j), the *joint* confusion matrix of the classifier on
                 labelled source validation data, shape (k, k), entries summing to 1; its column
                 sums are the source prior p(y = j) = Σ_i C_ij.
    target_mean: μ_i = P_target(ŷ = i), the classifier's mean prediction on unlabelled target data, (k,).

    Since P(ŷ|y) does not change,

        μ_i = Σ_j P(ŷ = i | y = j) q(y = j) = Σ_j C_ij w_j,   with w_j = q(y = j) / p(y = j),

    so w = C⁻¹ μ (solve the linear system C w = μ), and q(y) = w_y · p(y) (it sums to 1, as μ does).

    Here C is well-conditioned (a classifier much better than chance) and the solution is
    positive; the project falls back to non-negative least squares when it is not — not part of
    this exercise. Returns (w, q), both of shape (k,), float64.
    Allowed: torch.linalg.solve and any tensor operations.''',
    solution="divelab.exercises.solutions.shift:estimate_label_shift",
    source=("divelab.analysis.shift:estimate_label_shift",),
    probe=_label_shift_probe, cases=_label_shift_cases,
    hints=(
        Hint("label-shift-joint", "C is the joint P(ŷ = i, y = j) (its entries sum to 1): solve C w = μ with C as "
             "given. Dividing its columns by p(y) gives P(ŷ|y), and solving P(ŷ|y) v = μ yields q, not w = q / p",
             key="^w$", case="symmetric|diagonal"),
        Hint("label-shift-transposed", "rows of C are the predictions ŷ = i, columns the labels y = j, and "
             "μ_i = Σ_j C_ij w_j: solve C w = μ (torch.linalg.solve(confusion, target_mean)), not Cᵀ w = μ",
             key="^w$"),
        Hint("label-shift-times-p", "w is the ratio q(y) / p(y): multiply it back by the source prior, "
             "q(y) = w_y · p(y)", key="^q$", case="symmetric|diagonal"),
        Hint("label-shift-column-sums", "the source prior is p(y = j) = Σ_i C_ij, the column sums of C "
             "(summing over the predictions, dim 0); the row sums are P_source(ŷ)", key="^q$"),
    ),
)

# ---- re-weighting predictions ---------------------------------------------------------------------


def _posteriors(g: torch.Generator, *shape: int) -> Tensor:
    """Random posteriors over the last dim: the softmax of N(0, 1.5²) logits."""
    scores = torch.exp(randn(g, *shape, scale=1.5))
    return scores / scores.sum(-1, keepdim=True)


def _reweight_case(name: str, shape: tuple[int, ...], zero: tuple[int, ...] = (), ones: bool = False) -> Case:
    """Source posteriors of ``shape`` and class weights ``w ∈ [0.2, 3)``; the classes in ``zero``
    get weight 0."""
    def make(g: torch.Generator) -> dict[str, Any]:
        probabilities = _posteriors(g, *shape)
        w = torch.ones(shape[-1], dtype=DTYPE) if ones else 0.2 + 2.8 * torch.rand(shape[-1], generator=g, dtype=DTYPE)
        w[list(zero)] = 0.0
        return {"probabilities": probabilities, "w": w}
    return Case(name, make)


def _zero_rows_case() -> Case:
    """Classes 0 and 1 get weight 0, and every other row puts all its mass on them: those rows stay as they were."""
    def make(g: torch.Generator) -> dict[str, Any]:
        probabilities = _posteriors(g, 8, 4)
        probabilities[::2, 2:] = 0.0
        probabilities = probabilities / probabilities.sum(-1, keepdim=True)
        w = torch.cat([torch.zeros(2, dtype=DTYPE), 0.5 + torch.rand(2, generator=g, dtype=DTYPE)])
        return {"probabilities": probabilities, "w": w}
    return Case("rows whose classes all have weight 0 are left as they were, 4 classes", make)


def _reweight_cases() -> list[Case]:
    return [
        _reweight_case("10 rows, 4 classes", (10, 4)),
        _reweight_case("batch of shape (3, 5), 2 classes", (3, 5, 2)),
        _reweight_case("w = 1: the posteriors are unchanged, 5 classes", (6, 5), ones=True),
        _reweight_case("one class has weight 0, 3 classes", (7, 3), zero=(1,)),
        _zero_rows_case(),
        _reweight_case("no rows (shape (0, 3))", (0, 3)),
    ]


REWEIGHT_PREDICTIONS = Exercise(
    name="reweight-predictions", chapter=8, title="correct a classifier's posteriors for label shift",
    difficulty="easy", entry="reweight_predictions",
    signature="def reweight_predictions(probabilities: Tensor, w: Tensor) -> Tensor:",
    task='''Correct a classifier's source posteriors p_s(y|x) to the target's class prior q(y).

    Under label shift p(x|y) is fixed, so p_t(y|x) ∝ p(x|y) q(y) ∝ p_s(y|x) · q(y) / p(y):

        p_t(y|x) = w_y p_s(y|x) / Σ_j w_j p_s(j|x),   w_y = q(y) / p(y) ≥ 0

    (w from black-box shift estimation). A row whose every class has weight 0
    (Σ_j w_j p_s(j|x) = 0) is returned as it was, not divided by 0.

    probabilities: (..., k), each row summing to 1 (float64); w: (k,). Returns a tensor of
    probabilities' shape and dtype, each row summing to 1.
    Allowed: any tensor operations.''',
    solution="divelab.analysis.shift:reweight_predictions",
    probe=_output_probe, cases=_reweight_cases,
    hints=(
        Hint("reweight-zero-row", "when every class of a row has weight 0 the normaliser Σ_j w_j p_s(j|x) is 0: "
             "return that row unchanged (torch.where on the normaliser) instead of dividing 0 by 0",
             case="left as they were"),
        Hint("reweight-normalise", "renormalise each row: divide w_y p_s(y|x) by Σ_j w_j p_s(j|x), the sum over "
             "the classes (the last dim, keepdim=True), so that every row sums to 1", key="output"),
    ),
)

# ---- Page–Hinkley drift detection -----------------------------------------------------------------


def _stream_case(name: str, values: list[float], delta: float, threshold: float, min_samples: int = 30) -> Case:
    return Case(name, lambda g: {"stream": torch.tensor(values, dtype=DTYPE), "delta": delta,
                                 "threshold": threshold, "min_samples": min_samples})


def _error_stream_case(name: str, rates: list[float], length: int, delta: float = 0.05,
                       threshold: float = 20.0) -> Case:
    """0/1 errors, ``length`` values at each of the error ``rates`` in turn."""
    return Case(name, lambda g: {"stream": torch.cat([(torch.rand(length, generator=g) < r).to(DTYPE)
                                                      for r in rates]),
                                 "delta": delta, "threshold": threshold, "min_samples": 30})


def _noisy_levels_case(name: str, levels: list[float], length: int, noise: float, delta: float, threshold: float,
                       min_samples: int) -> Case:
    """Real values: ``length`` values at each mean of ``levels`` in turn, plus N(0, noise²)."""
    def make(g: torch.Generator) -> dict[str, Any]:
        mean = torch.tensor(levels, dtype=DTYPE).repeat_interleave(length)
        return {"stream": mean + randn(g, len(mean), scale=noise), "delta": delta, "threshold": threshold,
                "min_samples": min_samples}
    return Case(name, make)


def _page_hinkley_cases() -> list[Case]:
    return [
        _stream_case("step up from 0 to 1 at position 100, the stream ends at the alarm (δ = 0, λ = 5)",
                     [0.0] * 100 + [1.0] * 6, 0.0, 5.0),
        _stream_case("step up from 0 to 1 at position 100, then stays up (δ = 0, λ = 5, min_samples = 0)",
                     [0.0] * 100 + [1.0] * 30, 0.0, 5.0, min_samples=0),
        _error_stream_case("error rate 0.15 → 0.18, 2500 values each: a rise smaller than δ (δ = 0.05, λ = 20)",
                           [0.15, 0.18], 2500),
        _stream_case("min_samples = 30: m − M passes λ = 3 at the 10th value already (δ = 0)",
                     [0.0] * 5 + [1.0] * 40, 0.0, 3.0),
        _noisy_levels_case("values around 8 from the start, then 10: the running mean starts at x_1 "
                           "(δ = 0.1, λ = 5, min_samples = 0)", [8.0, 10.0], 150, 0.2, 0.1, 5.0, 0),
        _error_stream_case("error rate 0.1 → 0.5 → 0.1 → 0.6, 1000 values each (δ = 0.05, λ = 20)",
                           [0.1, 0.5, 0.1, 0.6], 1000),
        _noisy_levels_case("real-valued stream, mean 0 → 1 → 2 with N(0, 0.5²) noise (δ = 0.1, λ = 10, "
                           "min_samples = 20)", [0.0, 1.0, 2.0], 300, 0.5, 0.1, 10.0, 20),
        _stream_case("empty stream", [], 0.005, 20.0),
    ]


def _page_hinkley_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    alarms = torch.tensor([int(i) for i in fn(**args)], dtype=torch.int64)
    return {"number of alarms": torch.tensor(len(alarms)), "alarm positions": alarms}


PAGE_HINKLEY = Exercise(
    name="page-hinkley", chapter=8, title="the Page–Hinkley test for a rise in a stream's mean",
    difficulty="medium", entry="page_hinkley",
    signature="def page_hinkley(stream: Tensor, delta: float = 0.005, threshold: float = 20.0, "
              "min_samples: int = 30) -> list[int]:",
    task='''The Page–Hinkley test: raise an alarm when the mean of a stream x_1, x_2, … (e.g. the 0/1
    errors of a deployed classifier) increases — concept shift.

    After each value, with x̄_t the running mean of the values since the last reset (x_t included),

        m_t = Σ_{i ≤ t} (x_i − x̄_i − δ),   M_t = min(0, m_1, …, m_t),   alarm when m_t − M_t > λ

    (δ = delta, the size of change to ignore; λ = threshold). While the mean is steady the −δ
    drift pulls m down; after the mean rises by more than δ, m climbs away from its minimum.
    No alarm is raised while fewer than min_samples values were seen since the last reset
    (the min_samples-th value may raise one). After an alarm the test starts afresh: the count,
    the running mean, m and M all go back to 0.

    stream: (N,) float64 (convert it with stream.tolist() and loop over floats: looping over
    0-d tensors is slow). Returns the 0-based positions of the values that raised an alarm, in
    order, as a list of ints ([] if none).
    Allowed: plain Python and any tensor operations.''',
    solution="divelab.exercises.solutions.shift:page_hinkley",
    source=("divelab.analysis.shift:PageHinkley",),
    probe=_page_hinkley_probe, cases=_page_hinkley_cases,
    hints=(
        Hint("page-hinkley-direction", "the test detects an *increase*: M_t is the running minimum of m (starting "
             "at 0), so m_t − M_t ≥ 0 grows when the values rise; alarm when it exceeds λ",
             key="number of alarms", case="ends at the alarm"),
        Hint("page-hinkley-positions", "return 0-based positions: the index in the stream of the value whose "
             "update pushed m_t − M_t above λ", key="alarm positions", case="ends at the alarm"),
        Hint("page-hinkley-reset", "after an alarm the test starts afresh: set the count, the running mean, m and "
             "M back to 0 (so min_samples applies again), or it keeps raising alarms", case="stays up"),
        Hint("page-hinkley-delta", "subtract δ in every term, m_t = Σ (x_i − x̄_i − δ): without it a steady "
             "stream's noise, or a rise smaller than δ, drifts m away from its minimum and raises alarms",
             case="smaller than δ"),
        Hint("page-hinkley-min-samples", "no alarm while fewer than min_samples values were seen since the last "
             "reset; the value that brings the count to min_samples may raise one (count ≥ min_samples)",
             case="min_samples = 30"),
        Hint("page-hinkley-mean", "x̄_i is the running mean of the values since the last reset including x_i: "
             "update it (x̄ += (x − x̄) / count) before adding x_i − x̄_i − δ to m "
             "(so the first value adds just −δ)",
             case="running mean starts"),
    ),
)

EXERCISES: list[Exercise] = [IMPORTANCE_WEIGHTS, LABEL_SHIFT, REWEIGHT_PREDICTIONS, PAGE_HINKLEY]
