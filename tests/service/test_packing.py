"""Filters are packed in order into consecutive packs, the last one possibly smaller."""

from __future__ import annotations

from featviz.packing import pack_filters


def test_filters_pack_in_order() -> None:
    assert pack_filters(range(10), 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert pack_filters([5, 2], 16) == [[5, 2]]
    assert pack_filters([], 3) == []
