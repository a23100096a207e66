"""The wildcard search planner, driven by a pure model of a line (DL/T 645 §6)."""

import random

import pytest

from concentrator._search import SearchPlan
from protocols.dlt645 import address_matches


def run_plan(meters, overlap=lambda matching: len(matching) > 1, max_probes=100000):
    """Drive a plan: every meter selected by a pattern answers; more than one collides."""
    plan = SearchPlan()
    while True:
        pattern = plan.next_probe()
        if pattern is None:
            return plan.result()
        matching = [m for m in meters if address_matches(pattern, m)]
        garbled = overlap(matching)
        clean = [] if garbled else matching
        plan.outcome(pattern, clean, garbled)
        assert plan.probes < max_probes, "search does not terminate"


def test_single_meter_is_found_with_one_probe():
    result = run_plan(["202311150042"])
    assert result.found == ["202311150042"]
    assert result.probes == 1
    assert result.collisions == 0


def test_empty_line_takes_one_probe():
    result = run_plan([])
    assert result.found == [] and result.probes == 1


def test_meters_differing_in_lowest_byte_need_one_split():
    meters = ["202311150042", "202311150043", "202311150099"]
    result = run_plan(meters)
    assert result.found == sorted(meters)
    assert result.probes == 1 + 100
    assert result.collisions == 1


def test_meters_sharing_lowest_bytes_are_narrowed_deeper():
    meters = ["202311150042", "202311160042", "000012345642"]
    result = run_plan(meters)
    assert result.found == sorted(meters)
    # root, 100 for A0, 100 for A1 under 42 (0042 shared by two), 100 for A2 under 0042
    assert result.probes == 1 + 100 + 100 + 100


def test_clean_replies_that_do_not_overlap_end_the_branch():
    # Meters with well-separated reply delays answer one after another.
    meters = ["202311150042", "202311150043"]
    result = run_plan(meters, overlap=lambda matching: False)
    assert result.found == sorted(meters)
    assert result.probes == 1


def test_duplicate_addresses_are_reported_unresolved_not_searched_forever():
    meters = ["202311150042", "202311150042"]
    result = run_plan(meters)
    assert result.found == []
    assert result.unresolved == ["202311150042"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_lines_find_every_meter(seed):
    rng = random.Random(seed)
    meters = sorted({"%012d" % rng.randrange(10 ** 12) for _ in range(40)})
    result = run_plan(meters)
    assert result.found == meters
    assert result.unresolved == []
