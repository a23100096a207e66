"""Producer keys (``Outbox.append_many(items, keys=)``): a record committed under a
key is never appended again, across reopen and kill -9, so a producer that
notes its progress in another file (the reading ledger) can append first,
note second, and after a crash simply do both again."""

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from bodies import reading
from edge.outbox import Limits, Outbox


def test_a_known_key_returns_its_seq_and_appends_nothing(db_path, identity):
    with Outbox(db_path, identity) as ob:
        assert ob.append_many([("reading", reading(1)), ("reading", reading(2))], keys=["a", "b"]) == [1, 2]
        assert ob.append_many([("reading", reading(2)), ("reading", reading(3))], keys=["b", "c"]) == [2, 3]
        assert ob.last_seq == 3
        # The same key twice in one call is one record; None is never deduplicated.
        assert ob.append_many([("reading", reading(4))] * 2 + [("reading", reading(5))] * 2,
                              keys=["d", "d", None, None]) == [4, 4, 5, 6]
        assert ob.append_many([("reading", reading(1))], keys=["a"]) == [1]
        assert ob.last_seq == 6
    with Outbox(db_path, identity) as ob:            # across a reopen
        assert ob.append_many([("reading", reading(9))], keys=["c"]) == [3]
        assert ob.last_seq == 6


def test_keys_survive_the_ack_that_deletes_their_record(db_path, identity):
    with Outbox(db_path, identity) as ob:
        ob.append_many([("reading", reading(1))], keys=["k"])
        for item in ob.next_to_publish(10):
            ob.mark_published(item)
        ob.ack(ob.epoch, 1)
        assert ob.figures().depth_records == 0
        assert ob.append_many([("reading", reading(1))], keys=["k"]) == [1]
        assert ob.last_seq == 1


def test_keys_are_pruned_after_the_retention(db_path, identity):
    now = [1_000_000_000_000]
    clock = lambda: (now[0], {"src": "none", "err_ms": None})       # noqa: E731
    with Outbox(db_path, identity, Limits(key_retention_s=60), clock=clock) as ob:
        ob.append_many([("reading", reading(1))], keys=["old"])
        now[0] += 61_000
        ob.append_many([("reading", reading(2))], keys=["new"])
        assert ob.append_many([("reading", reading(1))], keys=["old"]) == [3]      # forgotten: appended again


@pytest.mark.parametrize("keys, message", [
    (["a"], "keys must match items one to one: 1 keys for 2 items"),
    (["a", ""], "a producer key is text of 1 to 200 characters or None, got ''"),
    (["a", 5], "got 5"),
    (["a", "x" * 201], "1 to 200 characters"),
])
def test_bad_keys_are_refused_and_nothing_is_appended(db_path, identity, keys, message):
    with Outbox(db_path, identity) as ob:
        with pytest.raises(ValueError, match=message):
            ob.append_many([("reading", reading(1)), ("reading", reading(2))], keys=keys)
        assert ob.last_seq == 0


def test_a_store_made_before_keys_gets_the_table_on_open(db_path, identity):
    with Outbox(db_path, identity) as ob:
        ob.append("reading", reading(1))
    db = sqlite3.connect(db_path)
    db.execute("DROP TABLE record_keys")
    db.commit()
    db.close()
    with Outbox(db_path, identity) as ob:
        assert ob.append_many([("reading", reading(2))], keys=["x"]) == [2]


CHILD = textwrap.dedent("""
    import sys
    sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests/edge"]
    from bodies import reading
    from edge.identity import load_identity
    from edge.outbox import Outbox
    ob = Outbox(sys.argv[2], load_identity(sys.argv[3]))
    for i in range(1, 100000):
        seq = ob.append_many([("reading", reading(i))], keys=["item-%d" % i])[0]
        print(i, seq, flush=True)
""")


def test_kill_9_between_append_and_note_never_duplicates(db_path, identity, tmp_path):
    """The child appends item i under key item-i and then prints (notes) it. Killed at a
    random point, the note may lag the outbox by one; appending again from the first
    un-noted item gives the same seqs, no new record."""
    import random
    from pathlib import Path
    repo = str(Path(__file__).resolve().parents[2])
    identity_dir = str(tmp_path / "identity")
    noted = {}
    for _round in range(5):
        child = subprocess.Popen([sys.executable, "-c", CHILD, repo, db_path, identity_dir],
                                 stdout=subprocess.PIPE, text=True)
        lines = []
        for _ in range(random.randint(50, 400)):
            line = child.stdout.readline()
            if not line:
                break
            lines.append(line)
        child.kill()
        child.wait()
        for line in lines:
            i, seq = map(int, line.split())
            assert noted.setdefault(i, seq) == seq
    with Outbox(db_path, identity) as ob:
        last = ob.last_seq
        # Appending every noted item again, and the next one, adds at most the one record.
        again = ob.append_many([("reading", reading(i)) for i in sorted(noted)],
                               keys=["item-%d" % i for i in sorted(noted)])
        assert again == [noted[i] for i in sorted(noted)]
        assert ob.last_seq == last
        rows = ob._conn.execute("SELECT count(*), count(DISTINCT seq) FROM record_keys").fetchone()
        assert rows[0] == rows[1] == last


ANOMALY_V2 = {"meter": "202311150031", "class": "acquisition-failure", "code": "no-reply", "state": "raised",
              "value": 3, "threshold": 3, "unit": "reads", "since_t": 1, "evidence": [],
              "detail": "meter 202311150031 did not answer 3 reads"}


def test_an_item_may_name_its_body_version_which_is_signed_and_checked(db_path, identity):
    from protocols.records import RecordError, verify_record
    with Outbox(db_path, identity) as ob:
        with pytest.raises(RecordError):        # a v2 body is not a v1 one: refused, nothing stored
            ob.append("anomaly", ANOMALY_V2)
        assert ob.last_seq == 0
        assert ob.append_many([("reading", reading(1)), ("anomaly", ANOMALY_V2, None, None, 2)]) == [1, 2]
        sent = ob.next_to_publish()
    records = [verify_record(p.data, lambda src: identity.public_key) for p in sent]
    assert [(r.kind, r.v) for r in records] == [("reading", 1), ("anomaly", 2)]
