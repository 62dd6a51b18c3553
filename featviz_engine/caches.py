"""What the engine builds once per process and reuses, in one place: networks (catalog and
registered), feature extractors, redirected-ReLU copies and traced ascent programs.

Everything built on a model is forgotten by one call, ``forget_model``, so that its memory can
be freed (the worker unloads uploaded models this way). The caches only hold entries;
``models.py`` and ``ascent.py`` build them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import keras

    from featviz_engine.ascent import AscentProgram, Design
    from featviz_engine.models import Network

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

lock = threading.RLock()
"""Held while an entry is built, so that each is built once; re-entrant, as building a program
builds its network and extractors."""

networks: dict[tuple[str, str, str, bool], Network] = {}
"""Catalog networks by (name, weights, precision, include_top)."""
registered: dict[str, Network] = {}
"""Models that are not in the catalog (trained here, uploaded), by the name jobs give."""
extractors: dict[tuple[int, tuple[str, ...]], keras.Model] = {}
"""Feature extractors by (id of the network's model, layer names)."""
redirected: dict[int, Network] = {}
"""Redirected-ReLU copies of networks, by the id of the original's model."""
programs: dict[Design, AscentProgram] = {}
"""Traced ascent programs by design; a design names its model."""


def cached(cache: dict[K, V], key: K, build: Callable[[], V]) -> V:
    """The entry of ``cache`` under ``key``, built by ``build`` when missing."""
    with lock:
        if key not in cache:
            cache[key] = build()
        return cache[key]


def forget_model(name: str) -> None:
    """Forget a model and everything built on it: its networks (registered, or from the catalog
    at every precision), their redirected-ReLU copies, the extractors on any of them and its
    ascent programs. A model not cached is not an error."""
    with lock:
        forgotten = [registered.pop(name)] if name in registered else []
        forgotten += [networks.pop(key) for key in [key for key in networks if key[0] == name]]
        copies = [redirected.pop(id(network.model), None) for network in forgotten]
        built_on = {id(network.model) for network in forgotten + [c for c in copies if c]}
        for key in [key for key in extractors if key[0] in built_on]:
            del extractors[key]
        for design in [design for design in programs if design.model == name]:
            del programs[design]
