"""The outbox's SQLite tables, and the connection settings its guarantees rest on.

``meta`` has one row (id 1): the chain head and counters. Its ``last_seq`` is
the sequence counter: it is updated in the same transaction as the records it
numbers, and never goes down, so deleting records (acks, shedding) can never
let a number be used twice.

``record_keys`` maps a producer's key to the seq committed under it (below).

``records`` holds each record, signed and encoded, until the hall's ack
covers it. ``seq`` is the rowid, so the drain (``seq >= ?``) and the ack
delete (``seq <= ?``) walk the table's own B-tree. The partial index finds the
oldest droppable records to shed without touching the others.

Every statement uses qmark parameters and each transaction is an explicit
``BEGIN IMMEDIATE`` ... ``COMMIT``, a subset that both the stdlib ``sqlite3``
module (in autocommit mode) and apsw accept, so the same code runs on a
fault-injecting VFS in the power-loss tests.
"""

SCHEMA_VERSION = 1

# Producer keys (``append_many(..., keys=)``): a record committed under a key is
# never appended again under it, so a producer that crashed between appending
# and noting that it did can simply append again. Added in layout 1 without a
# version change: an older store gets the table when it is opened, and older
# software ignores it. Keys older than the retention are pruned on append.
KEYS_TABLE = """CREATE TABLE IF NOT EXISTS record_keys (
        key TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        t_ms INTEGER NOT NULL
    ) WITHOUT ROWID"""
KEYS_BY_TIME = "CREATE INDEX IF NOT EXISTS record_keys_t ON record_keys (t_ms)"

TABLES = (
    """CREATE TABLE meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        schema_version INTEGER NOT NULL,
        device_id TEXT NOT NULL,
        public_key BLOB NOT NULL,
        epoch INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        last_hash BLOB NOT NULL,
        acked_seq INTEGER NOT NULL,
        CHECK (0 <= acked_seq AND acked_seq <= last_seq)
    )""",
    """CREATE TABLE records (
        seq INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        droppable INTEGER NOT NULL,
        t_ms INTEGER NOT NULL,
        nbytes INTEGER NOT NULL,
        data BLOB NOT NULL
    )""",
    "CREATE INDEX records_droppable ON records (seq) WHERE droppable = 1",
    KEYS_TABLE,
    KEYS_BY_TIME,
)

# WAL: a commit appends to the log and one fsync makes it durable; readers do
# not block the writer. synchronous=FULL: that fsync happens at every commit
# (NORMAL would let the last commits vanish on power loss, which breaks
# "committed before published").
PRAGMAS = (
    ("journal_mode", "wal"),
    ("synchronous", 2),
)
