"""The course's training guide as a function: what a run's curves say is wrong, and what to try next.

The guide (Hung-yi Lee, 2022) reads a run in this order:

1. **Look at the training loss first.** Did it blow up (*diverged*), rise or jump about
   (*learning rate too high*), or never move (*not learning*)? Do the recorded gradient
   norms explode or vanish?
2. **Training loss high?** Either *model bias* (the model cannot express a good function:
   make it more flexible) or *optimisation* (gradient descent did not find one). Compare
   with a simpler model: if a shallower network with no more parameters reaches a *lower
   training loss*, the deeper one's failure is optimisation (the 20- vs 56-layer plot).
3. **Training loss low, held-out loss high?** *Overfitting* (more data, augmentation, a
   smaller or constrained model, early stopping, weight decay, dropout, ensembles) — or,
   when a validation set from the training data is fine and only the test set is bad,
   *mismatch* between training and test data; and a validation score that was used to
   choose among many models is optimistic (*validation overfitted*).
4. Still falling when training stopped: *undertrained*.

:func:`diagnose` applies this to one model's per-epoch records (``metrics*.jsonl``) with
the run's summary and settings; :func:`diagnose_run` to every model of a run. The numbers
that turn the guide's words ("flat", "high", "a gap") into decisions are the fields of
:class:`Thresholds`; they are judgement calls, stated, not laws.

The guide's rules, kept in one module because they are applied in the order above and share
the thresholds and curve helpers; a split would scatter that order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Thresholds:
    """Where the guide's words become numbers.

    A loss's *trend* is its relative change per epoch, ``d log(loss) / d epoch``, fitted by
    least squares over the last ``window`` of the epochs (at least 3).
    """

    window: float = 0.25        # share of the epochs that makes up "the end of training"
    improving: float = 0.01     # falling faster than 1 % per epoch at the end: still improving
    rise: float = 0.10          # ending 10 % above its own minimum (or 10 % of its fall, if larger): it rose
    bump: float = 0.02          # an epoch's training loss 2 % above the previous one's (or 2 % of the fall)
    oscillating: float = 0.3    # … in at least this share of the epochs (and twice): oscillating
    jump: float = 10.0          # or once to 10 × the previous epoch's
    chance: float = 0.15        # exp(−loss) within 15 % of an accuracy below 0.5: uniform predictions
    stuck: float = 0.98         # last training loss ≥ 98 % of the first: not learning
    gap_ratio: float = 1.5      # held-out loss ≥ 1.5 × training loss: a generalisation gap
    acc_gap: float = 0.05       # or training accuracy 5 points above held-out accuracy
    fit_accuracy: float = 0.9   # training accuracy below this is a high training loss
    worse: float = 1.1          # 10 % above another model's training loss: fits worse than it
    size_slack: float = 1.1     # "no more parameters": at most 10 % more
    disagree_acc: float = 0.03  # validation and test accuracy further apart than this (and 3 s.e.)
    disagree_loss: float = 1.25  # or one loss 1.25 × the other
    exploding: float = 100.0    # largest gradient norm ≥ 100 × the median epoch mean
    clipped: float = 0.5        # clipping acted on at least half of the steps
    vanishing: float = 1e-3     # first layer's gradient norm < 1/1000 of the last layer's


@dataclass
class Finding:
    """One branch of the guide that a run's numbers put it in."""

    kind: str                  # e.g. "overfitting"; see KINDS
    title: str                 # one line
    evidence: list[str]        # the numbers it rests on, with epochs
    advice: list[str]          # what to try next


@dataclass
class Diagnosis:
    """What the guide says about one trained model: the first finding in the guide's order,
    and any others that also hold."""

    model: str
    epochs: int
    finding: Finding
    also: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "epochs": self.epochs, "diagnosis": self.finding.kind,
                **{k: v for k, v in asdict(self.finding).items() if k != "kind"},
                "also": [asdict(f) for f in self.also]}


@dataclass(frozen=True)
class Comparator:
    """Another model trained on the same data: another of the run's models, or a ``--baseline`` run's."""

    label: str
    train_loss: float
    epoch: int
    parameters: int | None = None
    weight_layers: int | None = None
    declared_simpler: bool = False  # a --baseline whose size is not recorded is taken at its word


# in the guide's order: the first that holds is the diagnosis
KINDS = ("diverged", "lr-too-high", "not-learning", "exploding-gradients", "vanishing-gradients",
         "optimisation", "model-bias", "overfitting", "validation-overfit", "mismatch", "undertrained",
         "plateau", "good-fit")


# ---- reading a curve ---------------------------------------------------------------------------

def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _series(history: list[Record], key: str) -> list[tuple[int, float]]:
    """``(epoch, value)`` of every record with a finite ``key``."""
    return [(int(r["epoch"]), v) for r in history if (v := _number(r.get(key))) is not None]


def fit_curves(history: list[Record]) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """How well the model fits its training data, per epoch: ``(loss, accuracy)``. Measured in
    eval mode where the run recorded it (``train_loss_eval``, ``train_acc_eval``: with dropout
    the running ``train_loss`` is that of a thinned network), else the running averages."""
    loss = _series(history, "train_loss_eval") or _series(history, "train_loss")
    return loss, _series(history, "train_acc_eval") or _series(history, "train_acc")


def trend(points: list[tuple[int, float]], window: float = Thresholds.window) -> float | None:
    """Relative change per epoch at the end of a positive curve: the least-squares slope of
    ``log(value)`` against the epoch over the last ``max(3, window · n)`` points (−0.02: falling
    2 % per epoch); None for fewer than 3 points."""
    if len(points) < 3:
        return None
    tail = points[-max(3, math.ceil(window * len(points))):]
    xs = [float(e) for e, _ in tail]
    ys = [math.log(max(v, 1e-12)) for _, v in tail]
    x_mean, y_mean = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - x_mean) ** 2 for x in xs)
    return sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys)) / sxx if sxx > 0 else None


def _pct(rate: float) -> str:
    """A log-slope as the change per epoch it means: −0.077 → "7.4 %/epoch"."""
    return f"{100 * abs(math.expm1(rate)):.1f} %/epoch"


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _span(points: list[tuple[int, float]], window: float) -> str:
    tail = points[-max(3, math.ceil(window * len(points))):]
    return f"epochs {tail[0][0]}–{tail[-1][0]}"


# ---- the checks, each returning a Finding or None ------------------------------------------------

def _diverged(history: list[Record]) -> Finding | None:
    bad = [r for r in history if r.get("diverged") or
           ("train_loss" in r and _number(r.get("train_loss")) is None)]
    if not bad:
        return None
    r = bad[0]
    where = f"epoch {r['epoch']}" + (f", batch {r['batch']}" if "batch" in r else "")
    good = _series(history, "train_loss")
    before = f"; the last finite training loss was {_fmt(good[-1][1])} (epoch {good[-1][0]})" if good else ""
    return Finding("diverged", "the loss became NaN or infinite: training diverged",
                   [f"the loss was no longer finite in {where}{before}"],
                   ["lower the learning rate (try a tenth: --lr)",
                    "clip gradients, or warm the learning rate up over the first epoch",
                    "check the inputs are normalised and the initialisation is scaled (Xavier / He)"])


def _unstable(train: list[tuple[int, float]], t: Thresholds) -> Finding | None:
    """Training loss that ends well above its own minimum, or goes up epoch after epoch.

    "Well above" is measured against the larger of the loss and the fall it had made since
    the first epoch: a loss driven from 1.3 to 0.004 that ends at 0.005 has wobbled (as Adam
    does near zero), not risen; likewise one that spikes from 0.006 to 0.08 for an epoch has
    not jumped, though it grew 13-fold.
    """
    if len(train) < 2:
        return None
    values = [v for _, v in train]
    low = min(range(len(values)), key=values.__getitem__)
    fall = values[0] - values[low]

    def up(before: float, after: float, share: float) -> bool:
        return after - before > share * max(before, fall)

    bumps = [train[i][0] for i in range(1, len(values)) if up(values[i - 1], values[i], t.bump)]
    evidence = []
    if low < len(values) - 1 and up(values[low], values[-1], t.rise):
        evidence.append(f"training loss rose from {_fmt(values[low])} (epoch {train[low][0]}) "
                        f"to {_fmt(values[-1])} (epoch {train[-1][0]})")
    # a jump is a many-fold rise that is also large against the fall (Adam's spikes near zero are not)
    jumps = [i for i in range(1, len(values))
             if values[i] > t.jump * values[i - 1] and up(values[i - 1], values[i], t.rise)]
    if jumps:
        i = jumps[0]
        evidence.append(f"training loss jumped {values[i] / values[i - 1]:.0f}× from {_fmt(values[i - 1])} "
                        f"(epoch {train[i - 1][0]}) to {_fmt(values[i])} (epoch {train[i][0]})")
    if len(bumps) >= 2 and len(bumps) >= t.oscillating * (len(values) - 1):
        shown = ", ".join(map(str, bumps[:8])) + (" …" if len(bumps) > 8 else "")
        evidence.append(f"training loss went up in {len(bumps)} of {len(values) - 1} epochs (epochs {shown})")
    if not evidence:
        return None
    return Finding("lr-too-high", "the training loss rises or oscillates: the learning rate is too high",
                   evidence, ["lower the learning rate by 3–10× (--lr)",
                              "or decay it over the run (--set schedule=cosine where the experiment has one)"])


def _not_learning(train: list[tuple[int, float]], history: list[Record], t: Thresholds) -> Finding | None:
    """A training loss that stays where the first epoch left it (a classifier that also
    fits its data well is not stuck: it learnt within the first epoch)."""
    acc = fit_curves(history)[1]
    evidence = []
    if len(train) >= 3 and train[-1][1] >= t.stuck * train[0][1] and not (acc and acc[-1][1] >= t.fit_accuracy):
        evidence.append(f"training loss {_fmt(train[0][1])} at epoch {train[0][0]}, {_fmt(train[-1][1])} "
                        f"at epoch {train[-1][0]}: it has not moved")
    if train and acc and 0 < acc[-1][1] < 0.5 and abs(math.exp(-train[-1][1]) / acc[-1][1] - 1) < t.chance:
        # cross-entropy ln C with accuracy 1/C: the same probability 1/C for every class
        evidence.append(f"training loss {_fmt(train[-1][1])} ≈ ln(1 / accuracy {_fmt(acc[-1][1])}): the "
                        f"predictions are uniform, chance level for about {1 / acc[-1][1]:.0f} classes")
    elif acc and evidence:
        evidence.append(f"training accuracy {_fmt(acc[-1][1])}")
    if not evidence:
        return None
    return Finding("not-learning", "the network learns nothing: the training loss stays at its start or at chance",
                   evidence, ["try the learning rate 10× lower and 10× higher (--lr): a step too large "
                              "keeps the loss at chance, one too small never leaves it",
                              "check that inputs and labels belong together (a shuffled label tensor looks like this)"])


def _gradients(history: list[Record], t: Thresholds) -> list[Finding]:
    found = []
    means = sorted(v for _, v in _series(history, "grad_norm_mean"))
    peaks = _series(history, "grad_norm_max")
    clipped = _series(history, "clipped_fraction")
    evidence = []
    if means and peaks:
        median = means[len(means) // 2]
        epoch, peak = max(peaks, key=lambda p: p[1])
        if median > 0 and peak >= t.exploding * median:
            evidence.append(f"largest gradient norm {_fmt(peak)} (epoch {epoch}) is {peak / median:.0f}× "
                            f"the median epoch mean {_fmt(median)}")
    if clipped:
        share = sum(v for _, v in clipped) / len(clipped)
        if share >= t.clipped:
            evidence.append(f"gradient clipping acted on {100 * share:.0f} % of the steps")
    if evidence:
        found.append(Finding("exploding-gradients", "the gradient norms explode", evidence,
                             ["clip the gradient norm (or clip it lower)", "lower the learning rate",
                              "use gated recurrent cells (LSTM / GRU) or normalisation layers"]))
    ratios = sorted(v for _, v in _series(history, "grad_norm_ratio"))
    if ratios and ratios[len(ratios) // 2] < t.vanishing:
        found.append(Finding("vanishing-gradients", "the gradients vanish before they reach the first layers",
                             [f"the first layer's gradient norm is {ratios[len(ratios) // 2]:.2g}× the last "
                              "layer's (median over epochs)"],
                             ["use ReLU rather than sigmoid / tanh", "scale the initialisation (Xavier / He)",
                              "add batch normalisation or residual connections"]))
    return found


def _comparison(model: str, train: list[tuple[int, float]], facts: Mapping[str, Any] | None,
                others: Iterable[Comparator], t: Thresholds) -> Finding | None:
    """Optimisation when a simpler model (fewer weight layers, no more parameters) fits the
    training data better; model bias when only more flexible ones do."""
    if not train:
        return None
    loss = train[-1][1]
    better = [c for c in others if c.label != model and loss > t.worse * c.train_loss]
    simpler = [c for c in better if _simpler(c, facts, t)]
    better = [c for c in better if _more_flexible(c, facts, t)]  # an equal model fitting better proves nothing
    if simpler:
        c = min(simpler, key=lambda c: c.train_loss)
        return Finding("optimisation", "a simpler model fits the training data better: an optimisation failure",
                       [f"training loss {_fmt(loss)} at epoch {train[-1][0]} ({_size(facts)})",
                        f"{c.label} ({_size(asdict(c)) if not c.declared_simpler else 'given as the simpler baseline'})"
                        f" reaches {_fmt(c.train_loss)} (epoch {c.epoch})",
                        "a deeper network can always do what a shallower one does, so a higher training "
                        "loss is not model bias, and not overfitting (it is the training loss)"],
                       ["residual connections (each block learns a change to the identity)",
                        "batch normalisation and a scaled initialisation (He)",
                        "another optimiser or schedule (Adam, warm-up), or train longer"])
    if better:
        c = min(better, key=lambda c: c.train_loss)
        return Finding("model-bias", "a more flexible model fits the training data better: model bias",
                       [f"training loss {_fmt(loss)} at epoch {train[-1][0]} ({_size(facts)})",
                        f"{c.label} ({_size(asdict(c))}) reaches {_fmt(c.train_loss)} (epoch {c.epoch})"],
                       ["make the model more flexible: more layers, more units, better features"])
    return None


def _simpler(c: Comparator, facts: Mapping[str, Any] | None, t: Thresholds) -> bool:
    if c.declared_simpler:
        return True
    if not facts or c.parameters is None or c.weight_layers is None:
        return False
    return c.weight_layers < facts.get("weight_layers", 0) and c.parameters <= t.size_slack * facts.get("parameters", 0)


def _more_flexible(c: Comparator, facts: Mapping[str, Any] | None, t: Thresholds) -> bool:
    if not facts or c.parameters is None or c.weight_layers is None:
        return False
    return c.weight_layers > facts.get("weight_layers", 0) or c.parameters > t.size_slack * facts.get("parameters", 0)


def _size(facts: Mapping[str, Any] | None) -> str:
    if not facts or facts.get("parameters") is None:
        return "size not recorded"
    layers = facts["weight_layers"]
    return f"{facts['parameters']:,} parameters, {layers} weight layer{'s' * (layers != 1)}"


def _held_out(history: list[Record]) -> str | None:
    """The held-out set that tells overfitting: validation if there is one, else test."""
    for prefix in ("val", "test"):
        if _series(history, f"{prefix}_loss"):
            return prefix
    return None


def _overfitting(history: list[Record], train: list[tuple[int, float]], settings: Mapping[str, Any],
                 t: Thresholds) -> Finding | None:
    prefix = _held_out(history)
    if prefix is None or not train:
        return None
    held = _series(history, f"{prefix}_loss")
    name = {"val": "validation", "test": "test"}[prefix]
    evidence = []
    low = min(range(len(held)), key=lambda i: held[i][1])
    train_at_low = dict(train).get(held[low][0])
    if low < len(held) - 1 and held[-1][1] > held[low][1] * (1 + t.rise) and \
            train_at_low is not None and train[-1][1] < train_at_low:
        evidence.append(f"{name} loss fell to {_fmt(held[low][1])} at epoch {held[low][0]}, then rose to "
                        f"{_fmt(held[-1][1])} by epoch {held[-1][0]} while the training loss kept falling "
                        f"({_fmt(train_at_low)} → {_fmt(train[-1][1])})")
    if held[-1][1] >= t.gap_ratio * train[-1][1]:
        evidence.append(f"{name} loss {_fmt(held[-1][1])} is {held[-1][1] / max(train[-1][1], 1e-12):.1f}× "
                        f"the training loss {_fmt(train[-1][1])} (epoch {train[-1][0]})")
    acc_train, acc_held = fit_curves(history)[1], _series(history, f"{prefix}_acc")
    if acc_train and acc_held and acc_train[-1][1] - acc_held[-1][1] >= t.acc_gap:
        evidence.append(f"training accuracy {_fmt(acc_train[-1][1])} against {name} accuracy "
                        f"{_fmt(acc_held[-1][1])} (epoch {acc_held[-1][0]})")
    if not evidence:
        return None
    if prefix == "test":
        evidence.append("with no validation set this may also be mismatch between training and test "
                        "data: a validation split of the training data tells the two apart")
    return Finding("overfitting", "training loss low, held-out loss high: overfitting", evidence,
                   remedies(settings))


def remedies(settings: Mapping[str, Any]) -> list[str]:
    """The guide's remedies for overfitting, each marked as used by this run (with its
    setting), available in it (the setting to try), or not a setting of this experiment."""
    def find(*words: str) -> list[tuple[str, Any]]:
        return [(k, v) for k, v in settings.items() if any(w in k for w in words)]

    lines = []
    for what, keys, active in (
            ("more training data", ("train_size", "subset_size", "num_train"), lambda v: _number(v) not in (None, 0)),
            ("data augmentation", ("augment",), bool),
            ("early stopping", ("patience", "early_stop"), bool),
            ("weight decay", ("weight_decay", "wd"), lambda v: bool(_number(v))),
            ("dropout", ("dropout",), lambda v: bool(_number(v)) or (isinstance(v, str) and v not in ("", "0"))),
    ):
        found = find(*keys)
        used = [f"{k}={v}" for k, v in found if active(v)]
        if what == "more training data":
            lines.append(f"more training data (this run trained on {', '.join(used)})" if used else
                         "more training data")
        elif used:
            lines.append(f"{what}: the run sets {', '.join(used)}; more of it may help")
        elif found:
            lines.append(f"{what}: not used; try --set {found[0][0]}=…")
        else:
            lines.append(f"{what}: not a setting of this experiment")
    sizes = find("hidden", "width", "channels")
    lines.append("a smaller or more constrained model" + (f" ({', '.join(f'{k}={v}' for k, v in sizes)})"
                                                         if sizes else ""))
    lines.append("an ensemble of several models (divelab run ensemble shows the effect)")
    return lines


def _disagreement(final: Mapping[str, Any], summary: Mapping[str, Any], t: Thresholds) -> Finding | None:
    """Validation and test scores of the same model that disagree beyond their noise."""
    evidence = []
    val_acc, test_acc = _number(final.get("val_acc")), _number(final.get("test_acc"))
    if val_acc is not None and test_acc is not None:
        diff = val_acc - test_acc
        n_val, n_test = _number(summary.get("val_size")), _number(summary.get("test_size"))
        compared = _number(summary.get("models_compared")) or 1
        noise = None
        if n_val and n_test and compared == 1:  # a chosen model's luck is no longer one model's noise
            p = (val_acc + test_acc) / 2
            noise = 3 * math.sqrt(p * (1 - p) * (1 / n_val + 1 / n_test))
        if abs(diff) > t.disagree_acc and (noise is None or abs(diff) > noise):
            beyond = f" (3 standard errors: {noise:.3f})" if noise is not None else ""
            evidence.append(f"validation accuracy {_fmt(val_acc)} against test accuracy {_fmt(test_acc)}: "
                            f"{abs(diff):.3f} apart{beyond}")
    val_loss, test_loss = _number(final.get("val_loss")), _number(final.get("test_loss"))
    if val_loss and test_loss and max(val_loss, test_loss) >= t.disagree_loss * min(val_loss, test_loss):
        evidence.append(f"validation loss {_fmt(val_loss)} against test loss {_fmt(test_loss)}")
    if not evidence:
        return None
    optimistic = (val_acc or 0) > (test_acc or 0) or (val_loss or math.inf) < (test_loss or math.inf)
    if compared > 1 and optimistic:
        return Finding("validation-overfit",
                       f"the validation score is optimistic: it chose the best of {compared:,.0f} models",
                       [*evidence, f"the model was picked by its validation score among {compared:,.0f}: the "
                                   "best of many noisy scores is high partly by luck"],
                       ["report the chosen model's score on data it was not chosen on (a fresh test set)",
                        "compare fewer models, or use a larger validation set or K-fold cross-validation"])
    return Finding("mismatch", "validation and test disagree: training and test data differ (mismatch)",
                   evidence, ["look at examples of both: what differs between the training and the test data?",
                              "collect training data like the test data, or reweight it "
                              "(divelab run covariate-shift, label-shift)"])


def _undertrained(history: list[Record], train: list[tuple[int, float]], settings: Mapping[str, Any],
                  t: Thresholds, command: str) -> Finding | None:
    if any("best_epoch" in r for r in history):  # early stopping decided when to stop
        return None
    epochs = train[-1][0] if train else 0
    if len(train) < 3:
        return Finding("undertrained", f"only {len(train)} epoch{'s' * (len(train) != 1)}: too short to judge",
                       [f"{len(train)} epoch record(s); the guide needs a curve"],
                       [f"train longer: {command} --epochs {max(10, 5 * epochs)}"])
    prefix = _held_out(history)
    curve = _series(history, f"{prefix}_loss") if prefix else train
    rate = trend(curve, t.window)
    if rate is None or rate > -t.improving:
        return None
    which = {"val": "validation", "test": "test", None: "training"}[prefix]
    more = 2 * int(settings.get("epochs") or epochs)
    if settings.get("schedule", "constant") != "constant":  # planned over the whole run: cannot stretch it
        how = f"start afresh with --epochs {more} (its learning-rate schedule is planned over the run)"
    else:
        how = f"continue it: {command} --resume --epochs {more}"
    return Finding("undertrained", "still improving when training stopped: undertrained",
                   [f"{which} loss still falling {_pct(rate)} over {_span(curve, t.window)} "
                    f"(to {_fmt(curve[-1][1])})"],
                   [f"train for more epochs: {how}"])


def _flat(model: str, history: list[Record], train: list[tuple[int, float]], t: Thresholds) -> Finding:
    """The training loss has flattened and nothing else is wrong: high (model bias), or low (a good fit)."""
    loss = f"training loss flat at {_fmt(train[-1][1])} (epoch {train[-1][0]})" if train else "no training loss"
    acc = fit_curves(history)[1]
    prefix = _held_out(history)
    held = f"{prefix} loss {_fmt(_series(history, f'{prefix}_loss')[-1][1])}" if prefix else "no held-out loss"
    if acc and acc[-1][1] < t.fit_accuracy:
        return Finding("model-bias", "training loss high and flat: model bias",
                       [loss, f"training accuracy {_fmt(acc[-1][1])} (below {t.fit_accuracy})", held],
                       ["make the model more flexible: more units or layers, better features",
                        "to rule out optimisation, compare with a simpler model (divelab diagnose RUN "
                        "--baseline SIMPLER_RUN): if it reaches a lower training loss, it is optimisation"])
    if acc:
        return Finding("good-fit", "training loss low and flat, held-out close: a good fit",
                       [loss, f"training accuracy {_fmt(acc[-1][1])}", held],
                       ["nothing the guide would fix; to do better still: more data, augmentation, an ensemble"])
    return Finding("plateau", "training loss flat: a good fit, or model bias (there is nothing to compare with)",
                   [loss, held],
                   ["at the noise level of the data it is a good fit; to tell, train a more flexible model and "
                    "compare (divelab diagnose THIS_RUN --baseline SIMPLER_RUN)"])


# ---- putting it together ----------------------------------------------------------------------

def diagnose(model: str, history: list[Record], *, summary: Mapping[str, Any] | None = None,
             settings: Mapping[str, Any] | None = None, facts: Mapping[str, Any] | None = None,
             others: Iterable[Comparator] = (), thresholds: Thresholds = Thresholds(),
             command: str = "divelab run EXPERIMENT --out RUN_DIR") -> Diagnosis:
    """What the guide says about one model from its epoch records ``history`` (empty: judge
    from the summary's final numbers alone), the run's ``summary`` and ``settings``, the
    model's size ``facts`` and models to compare with (``others``); ``command`` reruns the
    run (the advice quotes it)."""
    summary, settings, t = summary or {}, settings or {}, thresholds
    history = [r for r in history if _number(r.get("epoch")) is not None]
    train = _series(history, "train_loss")
    final = history[-1] if history else summary
    if not history:  # a run that trained no epochs (a closed-form fit): only its final scores
        found = [f for f in (_disagreement(summary, summary, t),) if f]
        flat = Finding("good-fit", "nothing the guide can judge without curves", ["no epoch records"], [])
        return Diagnosis(model, 0, found[0] if found else flat, found[1:])
    fit = fit_curves(history)[0]
    checks = [_diverged(history), _unstable(train, t), _not_learning(fit, history, t), *_gradients(history, t),
              _comparison(model, fit, facts, others, t), _overfitting(history, fit, settings, t),
              _disagreement(final, summary, t), _undertrained(history, train, settings, t, command)]
    found = [f for f in checks if f is not None]
    if not found or all(f.kind in ("exploding-gradients", "vanishing-gradients") for f in found):
        found.append(_flat(model, history, fit, t))
    found.sort(key=lambda f: KINDS.index(f.kind))
    return Diagnosis(model, len(train), found[0], found[1:])


def comparators(histories: Mapping[str, list[Record]], models: Mapping[str, Any], run_label: str = "",
                declared_simpler: bool = False) -> list[Comparator]:
    """Each model of a run that reached a finite training loss, as something to compare with;
    another run's (``run_label``) are labelled with it."""
    out = []
    for name, history in histories.items():
        label = name if not run_label else run_label if len(histories) == 1 else f"{run_label} ({name})"
        train = fit_curves(history)[0]
        if not train or any(r.get("diverged") for r in history):
            continue
        facts = models.get(name) or {}
        out.append(Comparator(label, train[-1][1], train[-1][0], facts.get("parameters"),
                              facts.get("weight_layers"), declared_simpler and not facts))
    return out


def model_table(summary: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``summary.json``'s ``models`` rows (name, parameters, weight_layers) by name."""
    rows = (summary or {}).get("models")
    if not isinstance(rows, list):
        return {}
    return {str(r["name"]): r for r in rows if isinstance(r, dict) and "name" in r}


def diagnose_run(experiment: str, histories: Mapping[str, list[Record]], summary: Mapping[str, Any] | None,
                 settings: Mapping[str, Any] | None, baseline: Sequence[Comparator] = (),
                 thresholds: Thresholds = Thresholds(), run_dir: str = "RUN_DIR") -> list[Diagnosis]:
    """One :class:`Diagnosis` per model of a run (``histories``: sub-run name, '' for the run's
    own ``metrics.jsonl``, → records); each model is compared with the run's other models and
    with the ``baseline`` run's. A run without epoch records is judged from its summary."""
    models = model_table(summary)
    named = {(name or experiment): records for name, records in histories.items()}
    if not any(named.values()):
        return [diagnose(experiment, [], summary=summary, settings=settings, thresholds=thresholds)]
    others = [*comparators(named, models), *baseline]
    command = f"divelab run {experiment} --out {run_dir}"
    return [diagnose(name, records, summary=summary, settings=settings, facts=models.get(name),
                     others=others, thresholds=thresholds, command=command)
            for name, records in named.items() if records]
