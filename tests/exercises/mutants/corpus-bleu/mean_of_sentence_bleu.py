"""Mutant: averages the sentences' BLEU scores instead of computing one BLEU from the corpus totals."""

import math
from collections import Counter

HINT = "bleu-corpus"


def _bleu(h: list[str], r: list[str]) -> float:
    matches, totals = [], []
    for n in range(1, 5):
        hyp_grams = Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
        ref_grams = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
        matches.append(sum(min(c, ref_grams[g]) for g, c in hyp_grams.items()))
        totals.append(sum(hyp_grams.values()))
    if not any(matches) or not all(totals):
        return 0.0
    brevity = 1.0 if len(h) >= len(r) else math.exp(1 - len(r) / len(h))
    log_sum, halvings = 0.0, 1.0
    for m, t in zip(matches, totals):
        if m == 0:
            halvings *= 2
        log_sum += math.log(m / t if m else 1 / (halvings * t))
    return 100 * brevity * math.exp(log_sum / 4)


def corpus_bleu(hyps: list[str], refs: list[str]) -> float:
    return sum(_bleu(h.split(), r.split()) for h, r in zip(hyps, refs)) / len(hyps)
