"""Mutant: counts every hypothesis n-gram found in the reference, however often (no clipping)."""

import math
from collections import Counter

HINT = "bleu-clip"


def corpus_bleu(hyps: list[str], refs: list[str]) -> float:
    matches, totals, hyp_len, ref_len = [0] * 4, [0] * 4, 0, 0
    for hyp, ref in zip(hyps, refs):
        h, r = hyp.split(), ref.split()
        hyp_len, ref_len = hyp_len + len(h), ref_len + len(r)
        for n in range(1, 5):
            hyp_grams = Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            ref_grams = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            matches[n - 1] += sum(c for g, c in hyp_grams.items() if g in ref_grams)
            totals[n - 1] += sum(hyp_grams.values())
    if not any(matches) or not all(totals):
        return 0.0
    brevity = 1.0 if hyp_len >= ref_len else math.exp(1 - ref_len / hyp_len)
    log_sum, halvings = 0.0, 1.0
    for m, t in zip(matches, totals):
        if m == 0:
            halvings *= 2
        log_sum += math.log(m / t if m else 1 / (halvings * t))
    return 100 * brevity * math.exp(log_sum / 4)
