"""Bulk work runs with fewer garbage collections, and leaves the collector as it was."""

from __future__ import annotations

import gc

from relengotron.adapters.ingest.collector import THRESHOLDS, fewer_collections


def test_thresholds_and_frozen_objects_are_restored_also_after_an_error():
    before = gc.get_threshold()
    try:
        with fewer_collections():
            assert gc.get_threshold() == THRESHOLDS
            assert gc.get_freeze_count() > 0
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_nested_uses_keep_the_outermost_settings_until_it_ends():
    before = gc.get_threshold()
    with fewer_collections():
        with fewer_collections():
            pass
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_threshold() == before


def test_cycles_are_still_collected():
    class Node:
        pass

    with fewer_collections():
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2
