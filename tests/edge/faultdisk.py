"""A simulated disk that loses power: an apsw VFS with a write-back cache per file.

Model (what a disk without a battery-backed cache may hold after a power cut):

* Every write and truncate goes to the file's cache: reads see it at once (the
  page cache), the disk does not hold it yet.
* ``xSync`` makes everything written to that file so far durable.
* A new file's name is durable only once its directory is synced: SQLite's
  unix VFS syncs the directory at the first sync of a log (WAL, journal) it
  created, and the outbox syncs it after creating its database (through the
  connector's ``sync_dir``). A delete with ``syncdir`` is durable; one
  without may be undone by the cut.
* At the cut, each file is what was durable plus some of the writes since
  its last sync: either a prefix of them in order (a disk that writes in
  order) or a random subset (a disk that reorders), and each write that
  lands may be torn at 512-byte sector boundaries (some of its sectors new,
  the rest old). A file never synced may be missing altogether.

Nothing about SQLite's format is assumed: the cut image is just bytes, opened
afterwards with the stdlib sqlite3 module as the real device would after
power comes back.

The VFS has no shared-memory methods (apsw's Python VFS files are version
1), so a connection on it must use ``PRAGMA locking_mode=EXCLUSIVE`` before
``journal_mode=WAL``: SQLite then keeps the WAL index in heap memory. The WAL
and database files are written exactly as with shared memory; the ``-shm``
file is never durable state (SQLite rebuilds it from the WAL after a crash).
"""

import os

import apsw

SECTOR = 512


class PowerCut(Exception):
    """Raised by every file operation once the power is off."""


class _File:
    __slots__ = ("data", "durable", "unsynced", "name_durable", "dirsync")

    def __init__(self, data=b"", durable=True, dirsync=False):
        self.data = bytearray(data)
        self.durable = bytes(data)
        self.unsynced = []          # ("w", offset, bytes) / ("t", size), since the last sync
        self.name_durable = durable
        self.dirsync = dirsync      # a new log: its first sync also syncs the directory


class Disk:
    """Files by name, plus the power switch.

    Args:
        rng: a ``random.Random`` deciding what survives a cut.
        cut_after: cut the power when this many write/sync/truncate/delete
            operations have been done (None: never).
    """

    def __init__(self, rng, cut_after=None):
        self.rng = rng
        self.files = {}
        self.ghosts = {}            # name -> durable bytes of a file deleted without a directory sync
        self.ops = 0
        self.cut_after = cut_after
        self.powered = True
        self.image = None           # name -> bytes, what the disk held at the cut
        self.cut_op = None          # (operation, file name) the power went during

    # ------------------------------------------------------------ the switch

    def tick(self, op="", key=""):
        """Count one operation; cut the power when the count is reached."""
        if not self.powered:
            raise PowerCut("the power is off")
        self.ops += 1
        if self.cut_after is not None and self.ops >= self.cut_after:
            self.cut_op = (op, key)
            self.cut()
            raise PowerCut("power cut at operation %d" % self.ops)

    def cut(self):
        """Turn the power off and decide what the disk holds."""
        self.powered = False
        image = {}
        for name, f in self.files.items():
            if not f.name_durable and self.rng.random() < 0.5:
                continue            # a new file whose directory entry never reached the disk
            image[name] = self._survivor(f)
        for name, data in self.ghosts.items():
            if name not in image and self.rng.random() < 0.5:
                image[name] = data  # the delete did not reach the disk
        self.image = image

    def _survivor(self, f):
        data = bytearray(f.durable)
        ops = f.unsynced
        if ops:
            if self.rng.random() < 0.5:
                keep = ops[:self.rng.randint(0, len(ops))]            # in order, up to some point
            else:
                keep = [op for op in ops if self.rng.random() < 0.5]  # reordered: any subset
            for i, op in enumerate(keep):
                torn = i == len(keep) - 1 or self.rng.random() < 0.1
                _apply(data, op, self.rng if torn else None)
        return bytes(data)

    def sync_names(self):
        """A directory sync: every name (and every delete) so far is durable."""
        self.tick("dirsync")
        for f in self.files.values():
            f.name_durable = True
        self.ghosts = {}

    # ----------------------------------------------------------------- files

    def load(self, directory, names):
        """Put real files (all durable) on the disk, e.g. the result of a recovery."""
        self.files = {}
        self.ghosts = {}
        for name in names:
            path = os.path.join(directory, name)
            if os.path.exists(path):
                with open(path, "rb") as f:
                    self.files[name] = _File(f.read())

    def write_image(self, directory):
        """Write the cut image as real files into ``directory`` (removing the other names first)."""
        for name in set(self.files) | set(self.ghosts) | set(self.image):
            path = os.path.join(directory, name)
            if os.path.exists(path):
                os.unlink(path)
        for name, data in self.image.items():
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data)


def _apply(data, op, tear_rng):
    """Apply one write or truncate to ``data``; a torn write lands sector by sector at random."""
    if op[0] == "t":
        del data[op[1]:]
        return
    _w, offset, chunk = op
    end = offset + len(chunk)
    if len(data) < end:
        data.extend(b"\x00" * (end - len(data)))
    if tear_rng is None:
        data[offset:end] = chunk
        return
    pos = offset
    while pos < end:
        stop = min(end, (pos // SECTOR + 1) * SECTOR)
        if tear_rng.random() < 0.5:
            data[pos:stop] = chunk[pos - offset:stop - offset]
        pos = stop


class FaultVFS(apsw.VFS):
    """The VFS over a ``Disk``; register it under ``name`` and open connections with ``vfs=name``."""

    def __init__(self, name, disk):
        self.disk = disk
        self.vfs_name = name
        super().__init__(name, "")

    def xOpen(self, name, flags):
        if name is None:
            raise apsw.CantOpenError("no temporary files on the fault disk")
        key = name.filename() if isinstance(name, apsw.URIFilename) else name
        key = os.path.basename(key)
        if key not in self.disk.files:
            if not flags[0] & apsw.mapping_open_flags["SQLITE_OPEN_CREATE"]:
                raise apsw.CantOpenError("no such file: %s" % key)
            self.disk.tick("create", key)
            log = flags[0] & (apsw.mapping_open_flags["SQLITE_OPEN_WAL"]
                              | apsw.mapping_open_flags["SQLITE_OPEN_MAIN_JOURNAL"])
            self.disk.files[key] = _File(durable=False, dirsync=bool(log))
        flags[1] = flags[0]
        return FaultFile(self.disk, key)

    def xDelete(self, name, syncdir):
        key = os.path.basename(name)
        self.disk.tick("delete", key)
        f = self.disk.files.pop(key, None)
        if f is not None and f.name_durable:
            self.disk.ghosts[key] = f.durable
        if syncdir:
            self.disk.sync_names()

    def xAccess(self, name, flags):
        return os.path.basename(name) in self.disk.files

    def xFullPathname(self, name):
        return name


class FaultFile:
    """One open file of a ``Disk`` (the apsw VFS file protocol, duck-typed)."""

    def __init__(self, disk, key):
        self.disk = disk
        self.key = key

    def _file(self):
        # After the cut, reads still see the page cache: what SQLite does then is discarded with
        # the cache, and every write or sync fails (``tick``), so no call can report success.
        return self.disk.files[self.key]

    def xRead(self, amount, offset):
        return bytes(self._file().data[offset:offset + amount])

    def xWrite(self, data, offset):
        f = self._file()
        self.disk.tick("write", self.key)
        chunk = bytes(data)
        _apply(f.data, ("w", offset, chunk), None)
        f.unsynced.append(("w", offset, chunk))

    def xTruncate(self, size):
        f = self._file()
        self.disk.tick("truncate", self.key)
        del f.data[size:]
        f.unsynced.append(("t", size))

    def xSync(self, flags):
        f = self._file()
        self.disk.tick("sync", self.key)
        f.durable = bytes(f.data)
        f.unsynced = []
        if f.dirsync:
            f.dirsync = False
            self.disk.sync_names()

    def xFileSize(self):
        return len(self._file().data)

    def xLock(self, level):
        self._file()

    def xUnlock(self, level):
        pass

    def xCheckReservedLock(self):
        return False

    def xFileControl(self, op, ptr):
        return False

    def xSectorSize(self):
        return SECTOR

    def xDeviceCharacteristics(self):
        return 0        # no atomic or safe-append writes, no powersafe overwrite: the worst case

    def xClose(self):
        pass


def connector(disk, vfs_name, checkpoint_pages=8):
    """A connection factory for ``Outbox(connect=...)`` on the fault disk.

    A small ``wal_autocheckpoint`` makes checkpoints (database writes, WAL
    resets) happen every few commits, so cuts land in them too.
    """
    def connect(path):
        conn = apsw.Connection(os.path.basename(path), vfs=vfs_name)
        conn.execute("PRAGMA locking_mode=EXCLUSIVE").fetchall()
        conn.execute("PRAGMA wal_autocheckpoint=%d" % checkpoint_pages).fetchall()
        return conn

    connect.errors = (apsw.Error, PowerCut)
    connect.sync_dir = lambda _directory: disk.sync_names()
    return connect
