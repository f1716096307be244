"""Style statistics kept between jobs: a user re-running with the same style pays nothing.

Per style layer: the features' mean and Gram matrix (their second raw moment), from which both
style losses' targets follow, and which blend linearly across styles.

Keyed by the exact pixels the network sees (so size, style_scale and colour handling are in
the key), the style layers and the arithmetic; bounded, the least recently used goes first.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

# One entry at the default layers holds 64² + 128² + 256² + 2 x 512² floats: about 2.4 MB.
MAX_ENTRIES = 32


class GramCache:
    """A bounded LRU of per-style statistics for one engine (one set of weights)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()

    @staticmethod
    def key(style: np.ndarray, layers: tuple[str, ...], arithmetic: str) -> tuple[Any, ...]:
        """What identifies a style's statistics: its pixels (as fed to the network), layers,
        dtype."""
        pixels = np.ascontiguousarray(style, np.float32)
        digest = hashlib.blake2b(pixels.tobytes(), digest_size=16).hexdigest()
        return digest, pixels.shape, layers, arithmetic

    def get(self, key: tuple[Any, ...], compute: Callable[[], list[Any]]) -> list[Any]:
        """The cached statistics for ``key``, or ``compute()``'s, remembered."""
        if key in self._entries:
            self.hits += 1
            self._entries.move_to_end(key)
            return self._entries[key]
        self.misses += 1
        grams = compute()
        self._entries[key] = grams
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return grams
