"""Meter search over a simulated line with real collisions (DL/T 645 §6)."""

from concentrator._searcher import search



def test_search_narrows_collisions_down_to_each_meter(bus_line, meter):
    # Two meters share the lowest byte A0 (42) but not A1 (00 / 01), so the
    # search must go two levels deep: root, 100 probes of A0, 100 of A1 under 42.
    meters = ["202311150042", "202311150142", "000012345678", "202311150031"]
    bus, line = bus_line([meter(a, delay_ms=20 + i % 2 * 5) for i, a in enumerate(meters)],
                         baud=19200, timeout_s=0.3)
    result = search(line, "2007", window_s=0.045)
    assert result.found == sorted(meters)
    assert result.unresolved == []
    assert result.probes == 1 + 100 + 100
    assert result.collisions == 2
    assert bus.stats["collisions"] >= 2          # the line really garbled replies


def test_meters_whose_replies_do_not_overlap_are_found_in_one_probe(bus_line, meter):
    meters = ["202311150042", "202311150043"]
    _bus, line = bus_line([meter(meters[0], delay_ms=20), meter(meters[1], delay_ms=200)],
                          baud=9600, timeout_s=0.3)
    result = search(line, "2007", window_s=0.3)
    assert result.found == meters
    assert result.probes == 1


def test_search_ignores_meters_of_the_other_edition(bus_line, meter):
    _bus, line = bus_line([meter("202311150042"), meter("000009310421", std="1997")], baud=9600)
    assert search(line, "1997", window_s=0.1).found == ["000009310421"]
    assert search(line, "2007", window_s=0.1).found == ["202311150042"]
