"""The index's own vocabulary as a model of what users mean when they type without accents.

Built once per generation from the exact-form lexicons (title, lead, body): for every folded syllable
the accented forms that occur and their document frequencies, and the same for pyvi words, whose
frequencies are our co-occurrence statistics (``tre_em`` → ``trẻ_em`` 900, ``tre_em`` → ``tré_em`` 0).
Nothing is downloaded: the corpus is the model.
"""

from __future__ import annotations

import os
import pickle
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from searchsvc.analysis import WORD_JOINER, fold
from searchsvc.model.bigrams import Bigrams

FILE = "vocabulary.pickle"
_MIN_WORD_DF = 2  # a pyvi word seen in one document only is more likely noise than a compound


@dataclass
class Vocabulary:
    # folded form → [(exact form, document frequency)], most frequent first
    syllables: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    words: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    exact_df: dict[str, int] = field(default_factory=dict)
    fold_df: dict[str, int] = field(default_factory=dict)
    doc_count: int = 0
    bigrams: Bigrams | None = None  # the generation's own file (bigrams.npy), not pickled with the rest


def build(reader: Any) -> Vocabulary:
    """From a reader of the generation's exact and folded lexicons (``iter_field``, ``doc_count``): the writer's."""
    exact_df = _doc_frequencies(reader, "text")
    fold_df = _doc_frequencies(reader, "text_fold")
    syllables: dict[str, list[tuple[str, int]]] = defaultdict(list)
    words: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for text, df in exact_df.items():
        if WORD_JOINER in text:
            if df >= _MIN_WORD_DF:
                words[WORD_JOINER.join(fold(p) for p in text.split(WORD_JOINER))].append((text, df))
        else:
            syllables[fold(text)].append((text, df))
    for table in (syllables, words):
        for forms in table.values():
            forms.sort(key=lambda f: -f[1])
    return Vocabulary(dict(syllables), dict(words), dict(exact_df), dict(fold_df), reader.doc_count())


def _doc_frequencies(reader: Any, fieldname: str) -> dict[str, int]:
    out = {}
    for term, info in reader.iter_field(fieldname):
        out[term.decode("utf-8") if isinstance(term, bytes) else term] = info.doc_frequency()
    return out


def load(directory: Path) -> Vocabulary | None:
    """The generation's vocabulary, or None when it has none (or an unreadable one)."""
    try:
        with open(directory / FILE, "rb") as fh:
            vocab = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, ValueError):
        return None  # missing, truncated, or naming code that has since moved
    return vocab if isinstance(vocab, Vocabulary) else None


def save(directory: Path, vocab: Vocabulary) -> None:
    tmp = directory / f"{FILE}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            pickle.dump(replace(vocab, bigrams=None), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, directory / FILE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
