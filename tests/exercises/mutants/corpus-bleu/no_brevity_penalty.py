"""Mutant: leaves out the brevity penalty, so a short hypothesis made of matching words scores too high."""

import math
from collections import Counter

HINT = "bleu-brevity"


def corpus_bleu(hyps: list[str], refs: list[str]) -> float:
    matches, totals = [0] * 4, [0] * 4
    for hyp, ref in zip(hyps, refs):
        h, r = hyp.split(), ref.split()
        for n in range(1, 5):
            hyp_grams = Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            ref_grams = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            matches[n - 1] += sum(min(c, ref_grams[g]) for g, c in hyp_grams.items())
            totals[n - 1] += sum(hyp_grams.values())
    if not any(matches) or not all(totals):
        return 0.0
    log_sum, halvings = 0.0, 1.0
    for m, t in zip(matches, totals):
        if m == 0:
            halvings *= 2
        log_sum += math.log(m / t if m else 1 / (halvings * t))
    return 100 * math.exp(log_sum / 4)
