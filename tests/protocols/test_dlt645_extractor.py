"""FrameExtractor: cutting frames out of a byte stream (DL/T 645 §17, §16).

Frames are delimited by the length byte, never by the first 0x16 (§17, §18);
a rejected candidate costs only its first 0x68, so a real frame starting
inside it still comes out; memory stays bounded by one candidate (12 + 255).
"""

import random

import pytest

from protocols.dlt645 import (MAX_FRAME, FrameExtractor, build_error_reply, build_frame, build_read_reply,
                              build_read_request, parse_frame)

ADDRESS = "202311150042"
W1_REPLY = bytes.fromhex("68420015112320689108333334339A7856347D16")   # §15 W1


def _replies(n, seed=1):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        address = "%012d" % rng.randrange(10 ** 12)
        if i % 3 == 0:
            out.append(build_error_reply(address, 0x11, 2))
        else:
            out.append(build_read_reply(address, 0x00010000, rng.randrange(10 ** 8) / 100))
    return out


def _feed_all(ex, chunks, now_ms=None):
    out = []
    for c in chunks:
        out += ex.feed(c, now_ms)
    return out


def test_concatenated_frames_in_one_chunk_s17_rule5():
    """§17 rule 5: several frames in one chunk all come out, in order."""
    frames = _replies(20)
    ex = FrameExtractor()
    assert ex.feed(b"".join(frames)) == frames
    assert ex.frames == 20
    assert ex.pending == 0
    assert ex.discarded() == 0


@pytest.mark.parametrize("seed", range(5))
def test_random_splits_s17(seed):
    """Chunk boundaries anywhere (a UART read returns what it has) change nothing."""
    rng = random.Random(seed)
    frames = _replies(15, seed)
    stream = b"".join(b"\xfe" * rng.randrange(5) + f for f in frames)
    chunks = []
    i = 0
    while i < len(stream):
        n = rng.randrange(1, 40)
        chunks.append(stream[i:i + n])
        i += n
    assert _feed_all(FrameExtractor(), chunks) == frames


@pytest.mark.parametrize("preamble", range(9))
def test_fe_preamble_0_to_8_bytes_s2(preamble):
    """§2: replies carry 0, 2, 4 or more FE; they are skipped and counted, not summed."""
    data = build_read_request(ADDRESS, 0x00010000, preamble=preamble)
    ex = FrameExtractor()
    assert ex.feed(data) == [data[preamble:]]
    assert ex.discards["preamble"] == preamble
    assert ex.discards["noise"] == 0


def test_noise_between_frames_is_counted_s17_rule1():
    frames = _replies(3)
    noise = b"\x00\x16\x55\xfe\x16"
    ex = FrameExtractor()
    assert ex.feed(noise + frames[0] + noise + frames[1] + frames[2] + noise) == frames
    assert ex.discards["noise"] == 3 * 4
    assert ex.discards["preamble"] == 3


def _frame_with_checksum(cs):
    for v in range(100000):
        f = build_read_reply(ADDRESS, 0x00010000, v / 100)
        if f[-2] == cs:
            return f
    raise AssertionError("no frame with checksum %02X" % cs)


@pytest.mark.parametrize("frame", [
    # §17: address 85 14 16 00 18 15 on the wire holds 0x16
    build_read_request("151800161485", 0x00010000, preamble=0),
    # plain E3 is wire 16: inside the data field
    build_read_reply(ADDRESS, 0x06000001, b"\xe3\xe3\xe3"),
    # a checksum of 0x16
    _frame_with_checksum(0x16),
], ids=["address", "data", "checksum"])
def test_0x16_inside_address_data_checksum_s17_s18(frame):
    """§18 pitfall: ending a frame at the first 0x16 truncates these; the length byte decides."""
    assert 0x16 in frame[:-1]
    ex = FrameExtractor()
    assert ex.feed(frame) == [frame]
    out = []
    for i in range(len(frame)):
        out += ex.feed(frame[i:i + 1])
    assert out == [frame]
    parse_frame(frame)


def test_bad_header_drops_only_one_byte_s17_rule2():
    """§17 rule 2: a 68 without a 68 at +7 is dropped alone; a frame right behind it comes out."""
    ex = FrameExtractor()
    assert ex.feed(b"\x68\x01\x02" + W1_REPLY) == [W1_REPLY]
    assert ex.discards["bad_header"] == 1


def test_checksum_failure_rescans_inside_s17_rule4():
    """§17 rule 4: a frame whose CS fails is dropped by one byte; a frame inside it is found."""
    inner = build_error_reply(ADDRESS, 0x11, 2)
    # an outer "frame" whose data field is the inner frame, with a wrong checksum
    outer = bytearray(b"\x68" + bytes(6) + b"\x68\x91" + bytes([len(inner)]) + inner)
    outer += bytes(((sum(outer) + 1) & 0xFF, 0x16))
    ex = FrameExtractor()
    assert ex.feed(bytes(outer)) == [inner]
    assert ex.discards["checksum"] == 1


def test_end_byte_failure_s17_rule4():
    bad = W1_REPLY[:-1] + b"\x17"
    ex = FrameExtractor()
    assert ex.feed(bad + W1_REPLY) == [W1_REPLY]
    assert ex.discards["end_byte"] == 1


@pytest.mark.parametrize("offset", [1, 3, 7, 9, 12, 17])
def test_colliding_replies_then_clean_frame_s17(offset):
    """Two meters answering at once: the line carries the AND of both (open-drain
    RS-485 behaves like that for dominant zeros); the next clean frame must still
    come out, and nothing from the collision may."""
    a = build_read_reply("202311150042", 0x00010000, 12345.67)
    b = build_read_reply("202311150043", 0x00010000, 765.43)
    n = max(len(a), len(b) + offset)
    sa = a + b"\xff" * (n - len(a))
    sb = b"\xff" * offset + b + b"\xff" * (n - offset - len(b))
    collided = bytes(x & y for x, y in zip(sa, sb))
    clean = build_read_reply("202311150044", 0x02800002, 50.02, preamble=4)
    ex = FrameExtractor()
    out = ex.feed(collided + clean)
    assert out[-1:] == [clean[4:]]
    for f in out[:-1]:
        assert f in (a, b)   # a collision may only let an intact reply through


def test_noise_claiming_long_length_is_superseded():
    """docs/decisions.md §3: a noise header claiming L=255 must not hold back the reply behind it."""
    noise = b"\x68\x11\x22\x33\x44\x55\x66\x68\x91\xff"
    ex = FrameExtractor()
    assert ex.feed(noise + W1_REPLY) == [W1_REPLY]
    assert ex.discards["superseded"] == 1
    assert ex.pending == 0


def test_noise_claiming_long_length_superseded_byte_by_byte():
    noise = b"\x68\x11\x22\x33\x44\x55\x66\x68\x91\xc8\x01\x02"
    ex = FrameExtractor()
    data = noise + W1_REPLY
    out = []
    for i in range(len(data)):
        out += ex.feed(data[i:i + 1])
        if i < len(data) - 1:
            assert out == []
    assert out == [W1_REPLY]


def test_incomplete_candidate_waits_for_rest():
    ex = FrameExtractor()
    assert ex.feed(W1_REPLY[:15]) == []
    assert ex.pending == 15
    assert ex.feed(W1_REPLY[15:]) == [W1_REPLY]


def test_stale_partial_frame_expires_with_now_ms_s16():
    """§16: abandon a started frame after 500 ms of silence (inter-byte timeout)."""
    ex = FrameExtractor()
    assert ex.feed(W1_REPLY[:12], now_ms=1000) == []
    assert ex.feed(b"", now_ms=1400) == []
    assert ex.pending == 12
    # 600 ms later a new reply starts: the old fragment must not swallow it
    assert ex.feed(W1_REPLY, now_ms=1600) == [W1_REPLY]
    assert ex.discards["stale"] == 1
    assert ex.discards["noise"] == 11


def test_no_expiry_without_now_ms():
    ex = FrameExtractor()
    ex.feed(W1_REPLY[:12])
    assert ex.feed(W1_REPLY[12:]) == [W1_REPLY]
    assert ex.discards["stale"] == 0


def test_expire_and_reset():
    ex = FrameExtractor(inter_byte_timeout_ms=100)
    ex.feed(W1_REPLY[:5], now_ms=0)
    ex.expire(50)
    assert ex.pending == 5
    ex.expire(101)
    assert ex.pending == 0
    ex.feed(W1_REPLY[:5])
    ex.reset()
    assert ex.pending == 0


def test_memory_bound_under_random_noise_s17_rule6():
    """§17 rule 6: after megabytes of noise the pending buffer holds at most one candidate."""
    rng = random.Random(7)
    ex = FrameExtractor()
    total = 0
    for _ in range(32):
        chunk = rng.randbytes(65536)
        total += len(chunk)
        ex.feed(chunk)
        assert ex.pending <= MAX_FRAME
    assert total >= 2 * 1024 * 1024
    # and a real frame still gets through afterwards
    assert ex.feed(b"\x00" * MAX_FRAME + W1_REPLY)[-1:] == [W1_REPLY]


def test_memory_bound_under_long_length_headers():
    """Worst case: overlapping headers that each claim L=255, fed in small chunks."""
    header = b"\x68\x11\x22\x33\x44\x55\x66\x68\x91\xff"
    ex = FrameExtractor()
    for _ in range(300):
        ex.feed(header)
        assert ex.pending <= MAX_FRAME
    assert ex.feed(W1_REPLY) == [W1_REPLY]


def test_frames_parse_after_extraction():
    frames = _replies(10)
    for f in FrameExtractor().feed(b"".join(frames)):
        assert parse_frame(f).is_reply


def test_build_frame_of_every_length_is_extracted():
    """L = 0 ... 255 (§2: accept up to 255)."""
    ex = FrameExtractor()
    frames = [build_frame(ADDRESS, 0x91, bytes(range(n)), preamble=0) for n in range(256)]
    assert ex.feed(b"".join(frames)) == frames
