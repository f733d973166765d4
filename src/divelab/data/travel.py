"""A generated travel-request corpus for slot filling ("arrive Taipei on November 2nd").

No public slot-filling corpus (ATIS, SNIPS) can be downloaded here, so sentences are made
from templates and lexicons, in the style of ATIS: lower-case word tokens, no punctuation,
one BIO tag per word. The slots:

- ``origin``: the departure city ("from boston", "leaving boston", "boston to …")
- ``dest``: the destination city ("to taipei", "arrive taipei", "arriving in taipei")
- ``date``: "november 2nd", "the 2nd of november", "friday", "next friday", "tomorrow", …
- ``time``: "5 pm", "17:30", "noon", "morning", …
- ``airline``: "eva air", "lufthansa", …

A placeholder's preposition ("on", "at", "in the", "before") is tagged ``O`` and is not part
of the span: "fly to [boston]dest at [5 pm]time on [friday]date".

Splits measure generalisation, not memorisation: ``test`` uses *held-out templates*
(:data:`TEST_TEMPLATES`, phrasings never seen in training) and *held-out cities* (names never
seen in training, so almost all of their words are ``<unk>`` — only the context can tell an
``origin`` from a ``dest``); ``val`` has its own templates and cities, disjoint from both;
``test_seen`` has the test templates with training cities, to separate the two effects.
The city split (10 % validation, 10 % test, multi-word names in each) and the sentences
depend only on ``seed``; the template split is fixed.

Sentences are sampled independently: a template uniformly from the split's templates, each
city uniformly from the split's cities (``origin`` ≠ ``dest``), each date and time form
uniformly, then its values.

One generated corpus, kept in one module because its templates, lexicons and split rules are
data read by its sampler alone; about 40 % of its lines are those lists.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from divelab.data.vocab import Vocab

SLOTS = ("origin", "dest", "date", "time", "airline")
TAGS = ("O",) + tuple(f"{p}-{slot}" for slot in SLOTS for p in ("B", "I"))
TAG_PAD = -100  # tag of a padding position: F.cross_entropy's default ignore_index
PAD = "<pad>"  # the padding word; id 1, after <unk>

CITIES = tuple("""
taipei tokyo osaka kyoto seoul busan beijing shanghai shenzhen guangzhou chengdu wuhan
manila jakarta bangkok hanoi singapore bangalore mumbai chennai kolkata hyderabad lahore karachi
dhaka kathmandu colombo tashkent almaty tehran baghdad riyadh jeddah doha dubai muscat amman
beirut jerusalem istanbul ankara izmir athens sofia bucharest belgrade zagreb ljubljana budapest
vienna prague bratislava warsaw krakow gdansk vilnius riga tallinn helsinki stockholm oslo
copenhagen bergen gothenburg reykjavik dublin belfast edinburgh glasgow manchester liverpool
london cardiff bristol birmingham leeds amsterdam rotterdam brussels antwerp luxembourg paris
lyon marseille toulouse bordeaux strasbourg geneva zurich basel munich berlin hamburg frankfurt
cologne stuttgart dresden leipzig hanover dusseldorf milan turin venice florence rome naples
palermo bologna madrid barcelona seville valencia bilbao lisbon porto casablanca marrakesh tunis
algiers cairo alexandria khartoum nairobi mombasa kampala kigali lagos accra dakar abidjan
johannesburg durban harare lusaka luanda kinshasa moscow kazan novosibirsk kiev odessa minsk
toronto montreal vancouver calgary edmonton ottawa winnipeg halifax boston chicago houston
phoenix philadelphia dallas austin seattle portland denver atlanta miami orlando tampa detroit
minneapolis cleveland pittsburgh baltimore nashville memphis milwaukee cincinnati indianapolis
columbus charlotte raleigh richmond sacramento albuquerque tucson omaha honolulu anchorage
boise spokane tulsa wichita louisville lexington savannah charleston knoxville jacksonville
lima bogota quito caracas santiago montevideo asuncion havana guadalajara monterrey tijuana
cancun acapulco auckland wellington christchurch sydney melbourne brisbane perth adelaide
darwin canberra hobart nagoya fukuoka sapporo hiroshima taichung kaohsiung tainan macau xian nanjing
hangzhou tianjin harbin yangon mandalay cebu davao surabaya denpasar medan pune ahmedabad jaipur
islamabad kabul baku tbilisi yerevan salzburg innsbruck graz malaga alicante genoa verona pisa
thessaloniki poznan wroclaw tromso aberdeen cork galway fresno reno hartford norfolk mendoza cordoba
rosario valparaiso cusco medellin cali cartagena
""".split()) + (
    "new york", "los angeles", "san francisco", "san diego", "san antonio", "san jose", "las vegas",
    "salt lake city", "kansas city", "oklahoma city", "new orleans", "st louis", "fort worth", "el paso",
    "des moines", "baton rouge", "little rock", "santa fe", "washington dc", "rio de janeiro",
    "sao paulo", "buenos aires", "mexico city", "panama city", "san juan", "santo domingo",
    "la paz", "hong kong", "kuala lumpur", "ho chi minh city", "new delhi", "abu dhabi", "tel aviv",
    "cape town", "addis ababa", "dar es salaam", "st petersburg", "porto alegre", "rio grande",
    "palm springs", "phnom penh", "chiang mai", "quebec city", "ulan bator", "grand rapids", "colorado springs",
    "sioux falls", "green bay", "key west",
)

AIRLINES = ("american airlines", "delta", "united", "southwest", "jetblue", "alaska airlines", "air canada",
            "lufthansa", "air france", "british airways", "klm", "iberia", "swiss", "ryanair", "easyjet",
            "turkish airlines", "emirates", "qatar airways", "etihad", "eva air", "china airlines",
            "japan airlines", "korean air", "cathay pacific", "singapore airlines", "thai airways", "qantas",
            "aeromexico", "latam", "virgin atlantic")

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PARTS_OF_DAY = ("morning", "afternoon", "evening", "night")

# (preposition tagged O, value pattern tagged as the slot); {month} {weekday} {day} {ord} {h} {mm} {hh} {part}
DATE_FORMS = (("on", "{month} {ord}"), ("on", "{month} {day}"), ("on", "the {ord} of {month}"),
              ("on", "{day} {month}"), ("on", "{weekday}"), ("", "next {weekday}"), ("", "this {weekday}"),
              ("", "tomorrow"), ("", "today"), ("", "the day after tomorrow"), ("on", "{weekday} {month} {ord}"))
TIME_FORMS = (("at", "{h} pm"), ("at", "{h} am"), ("at", "{h}:{mm} pm"), ("at", "{h}:{mm} am"), ("at", "{hh}:{mm}"),
              ("at", "noon"), ("at", "midnight"), ("in the", "{part}"), ("before", "{h} pm"), ("after", "{h} am"),
              ("around", "{h} o'clock"), ("", "tonight"))

TRAIN_TEMPLATES = (
    "arrive {dest} {date}",
    "i want to fly to {dest} {time} {date}",
    "i want to fly from {origin} to {dest}",
    "show me flights from {origin} to {dest} {date}",
    "book a flight to {dest} {date} {time}",
    "i need a flight from {origin} to {dest} {date} {time}",
    "flights from {origin} to {dest} on {airline}",
    "{airline} flights to {dest} {date}",
    "what flights leave {origin} {date} {time}",
    "list {airline} flights from {origin} to {dest}",
    "i would like to go to {dest} {date}",
    "get me to {dest} {time}",
    "{origin} to {dest} {date}",
    "{origin} to {dest} {time} on {airline}",
    "is there a flight from {origin} to {dest} {time}",
    "leaving {origin} {date} going to {dest}",
    "i am in {origin} and want to get to {dest}",
    "i would like a ticket from {origin} to {dest} with {airline}",
    "cheapest fare from {origin} to {dest} {date}",
    "one way ticket to {dest} from {origin}",
    "round trip from {origin} to {dest} {date} returning {date}",
    "do you have {airline} flights from {origin} {date}",
    "please find a flight to {dest} departing {time}",
    "which airlines fly from {origin} to {dest}",
    "fly me to {dest} {date}",
    "{dest} {date} from {origin}",
    "any flights to {dest} leaving {time}",
    "i have to be in {dest} {date} {time}",
    "what time does the {airline} flight from {origin} arrive in {dest}",
    "departing {origin} {date} arriving in {dest} {time}",
    "show me the {airline} flights {date} from {origin}",
    "my trip is from {origin} to {dest}",
    "travel to {dest} {date}",
    "a flight {date} {time} from {origin} to {dest}",
    "how much is a ticket from {origin} to {dest} on {airline}",
    "i am going to {dest} {date} from {origin}",
    "flying out of {origin} {time}",
    "need to get from {origin} to {dest} as soon as possible",
    "{airline} {origin} to {dest}",
    "reserve a seat on a flight to {dest} {date}",
    "what is the earliest flight from {origin} {date}",
    "i want to leave {origin} {time}",
)
VAL_TEMPLATES = (
    "can i fly from {origin} to {dest} {date}",
    "take me to {dest} {time}",
    "{origin} to {dest} with {airline} {date}",
    "find flights out of {origin} to {dest}",
    "i need to be in {dest} {date}",
    "book {airline} from {origin} {date}",
)
TEST_TEMPLATES = (
    "i want to travel from {origin} to {dest} {date} {time}",
    "{origin} to {dest} {date} on {airline}",
    "please book me on {airline} to {dest} {date}",
    "is there an early flight out of {origin} {date}",
    "what is the fare to {dest} from {origin} {time}",
    "i would like to leave {origin} {date} and arrive in {dest} {time}",
    "get me a seat from {origin} to {dest}",
    "{dest} from {origin} {date}",
    "going from {origin} to {dest} on {airline} {date}",
)
TEMPLATES = {"train": TRAIN_TEMPLATES, "val": VAL_TEMPLATES, "test": TEST_TEMPLATES, "test_seen": TEST_TEMPLATES}

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class TaggedSplit:
    """Sentences of one split, as words and tags and as padded tensors.

    ``ids`` (N, T) word ids padded with ``<pad>``; ``tags`` (N, T) indices into :data:`TAGS`
    padded with :data:`TAG_PAD`; ``lengths`` (N,) the true lengths; T is the split's longest.
    """

    words: list[list[str]]
    tag_names: list[list[str]]
    ids: Tensor
    tags: Tensor
    lengths: Tensor

    def __len__(self) -> int:
        return len(self.words)


@dataclass(frozen=True)
class TravelCorpus:
    """The four splits, the word vocabulary and which cities each split used.

    ``vocab`` is built on ``train`` only: ``<unk>`` is 0, ``<pad>`` 1, then the training
    words, most frequent first. ``word_counts[i]`` is how often word ``i`` occurs in
    ``train`` (0 for ``<unk>`` and ``<pad>``).
    """

    train: TaggedSplit
    val: TaggedSplit
    test: TaggedSplit
    test_seen: TaggedSplit
    vocab: Vocab
    cities: dict[str, tuple[str, ...]]

    @property
    def pad_id(self) -> int:
        return self.vocab[PAD]

    @property
    def word_counts(self) -> tuple[int, ...]:
        counts = dict(self.vocab.token_freqs)  # <unk> and <pad> never occur in the sentences
        return tuple(counts.get(token, 0) for token in self.vocab.idx_to_token)


def _rng(seed: int, stream: int) -> random.Random:
    """A scalar random source that depends only on ``(seed, stream)``: Python's ``random``
    (scalar draws are ~20× cheaper than numpy's, and the corpus makes ~10⁵ of them)."""
    return random.Random(int(np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)[0]))


def split_cities(seed: int) -> dict[str, tuple[str, ...]]:
    """Cities of ``train``/``val``/``test`` (≈ 80/10/10 %, drawn from ``seed``), one-word and
    multi-word names split separately so every part has both."""
    rng = _rng(seed, 0)
    parts: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for group in ([c for c in CITIES if " " not in c], [c for c in CITIES if " " in c]):
        shuffled = rng.sample(group, len(group))
        k = max(1, round(0.1 * len(group)))
        parts["test"] += shuffled[:k]
        parts["val"] += shuffled[k:2 * k]
        parts["train"] += shuffled[2 * k:]
    return {name: tuple(sorted(cities)) for name, cities in parts.items()}


def _ordinal(day: int) -> str:
    """1 → "1st", 2 → "2nd", 11 → "11th", 23 → "23rd"."""
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _fill(form: str, rng: random.Random) -> str:
    """A date or time pattern with its numbers and names drawn."""
    day = rng.randint(1, 28)
    values = {"month": rng.choice(MONTHS), "weekday": rng.choice(WEEKDAYS), "day": str(day), "ord": _ordinal(day),
              "h": str(rng.randint(1, 12)), "mm": f"{5 * rng.randint(0, 11):02d}", "hh": f"{rng.randint(0, 23):02d}",
              "part": rng.choice(PARTS_OF_DAY)}
    return form.format(**values)


def _slot_value(slot: str, cities: Sequence[str], used: set[str], rng: random.Random) -> tuple[str, str]:
    """``(preposition, value)`` for one placeholder; a city is never used twice in a sentence."""
    if slot in ("origin", "dest"):
        city = rng.choice(cities)
        while city in used:
            city = rng.choice(cities)
        used.add(city)
        return "", city
    if slot == "airline":
        return "", rng.choice(AIRLINES)
    prep, form = rng.choice(DATE_FORMS if slot == "date" else TIME_FORMS)
    return prep, _fill(form, rng)


def make_sentence(template: str, cities: Sequence[str], rng: random.Random) -> tuple[list[str], list[str]]:
    """Fill ``template``'s placeholders; the words and their BIO tags."""
    words: list[str] = []
    tags: list[str] = []
    used: set[str] = set()
    for piece in template.split():
        match = _PLACEHOLDER.fullmatch(piece)
        if match is None:
            words.append(piece)
            tags.append("O")
            continue
        slot = match.group(1)
        if slot not in SLOTS:
            raise ValueError(f"template {template!r} has an unknown slot {{{slot}}}; slots are {SLOTS}")
        prep, value = _slot_value(slot, cities, used, rng)
        for word in prep.split():
            words.append(word)
            tags.append("O")
        for i, word in enumerate(value.split()):
            words.append(word)
            tags.append(f"{'B' if i == 0 else 'I'}-{slot}")
    return words, tags


def _tensors(words: list[list[str]], tags: list[list[str]], vocab: Vocab) -> TaggedSplit:
    longest = max(len(w) for w in words)
    tag_index = {t: i for i, t in enumerate(TAGS)}
    pad = vocab[PAD]
    ids = [[vocab[x] for x in w] + [pad] * (longest - len(w)) for w in words]
    tag_ids = [[tag_index[x] for x in t] + [TAG_PAD] * (longest - len(t)) for t in tags]
    return TaggedSplit(words, tags, torch.tensor(ids, dtype=torch.int64), torch.tensor(tag_ids, dtype=torch.int64),
                       torch.tensor([len(w) for w in words], dtype=torch.int64))


def _sample(templates: Sequence[str], cities: Sequence[str], n: int,
            rng: random.Random) -> tuple[list[list[str]], list[list[str]]]:
    pairs = [make_sentence(rng.choice(templates), cities, rng) for _ in range(n)]
    return [w for w, _ in pairs], [t for _, t in pairs]


def load_travel(num_train: int = 4000, num_eval: int = 1000, seed: int = 0) -> TravelCorpus:
    """The corpus: ``num_train`` training sentences and ``num_eval`` in each of val, test, test_seen.

    Each split has its own random stream (``seed``, split number), so changing one size
    leaves the other splits' sentences unchanged.
    """
    if num_train < 1 or num_eval < 1:
        raise ValueError(f"num_train and num_eval must be ≥ 1, got {num_train} and {num_eval}")
    cities = split_cities(seed)
    plan = {"train": (num_train, cities["train"]), "val": (num_eval, cities["val"]),
            "test": (num_eval, cities["test"]), "test_seen": (num_eval, cities["train"])}
    raw = {name: _sample(TEMPLATES[name], pool, n, _rng(seed, 1 + i))
           for i, (name, (n, pool)) in enumerate(plan.items())}
    vocab = Vocab((word for sentence in raw["train"][0] for word in sentence), reserved=[PAD])
    splits = {name: _tensors(words, tags, vocab) for name, (words, tags) in raw.items()}
    return TravelCorpus(**splits, vocab=vocab, cities=cities)
