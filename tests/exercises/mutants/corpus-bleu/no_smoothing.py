"""Mutant: no smoothing: an order without a match makes BLEU 0 (sacrebleu's default smooths it)."""

import math
from collections import Counter

HINT = "bleu-smoothing"


def corpus_bleu(hyps: list[str], refs: list[str]) -> float:
    matches, totals, hyp_len, ref_len = [0] * 4, [0] * 4, 0, 0
    for hyp, ref in zip(hyps, refs):
        h, r = hyp.split(), ref.split()
        hyp_len, ref_len = hyp_len + len(h), ref_len + len(r)
        for n in range(1, 5):
            hyp_grams = Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            ref_grams = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            matches[n - 1] += sum(min(c, ref_grams[g]) for g, c in hyp_grams.items())
            totals[n - 1] += sum(hyp_grams.values())
    if not all(matches):
        return 0.0
    brevity = 1.0 if hyp_len >= ref_len else math.exp(1 - ref_len / hyp_len)
    return 100 * brevity * math.exp(sum(math.log(m / t) for m, t in zip(matches, totals)) / 4)
