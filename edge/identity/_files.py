"""Durable, private files: atomic writes and permission checks.

A file is written to a temporary file in the same directory, fsynced, renamed
(or hard-linked, when it must not replace anything) over its final name, and
the directory is fsynced, so after a crash or power loss the name holds either
the old content or the new one, never a torn mix. Temporary files are created
0600 from the start, so a secret is never readable by others, not even while
it is being written.
"""

import os
import stat

from .._errors import IdentityError, IdentityExists, InsecurePermissions

from .._fs import fsync_dir

DIR_MODE = 0o700
FILE_MODE = 0o600


def write_atomic(path, data, overwrite=True):
    """Write ``data`` (bytes) to ``path`` with mode 0600, atomically and durably.

    Raises:
        IdentityExists: ``overwrite`` is false and ``path`` exists.
        IdentityError: the file cannot be written (disk full, read-only...).
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    except OSError as exc:
        raise IdentityError("cannot write %s: %s" % (path, exc.strerror), path) from exc
    try:
        try:
            os.fchmod(fd, FILE_MODE)   # O_CREAT's mode is masked by the umask; the result must be exact
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)     # fails if the name exists: no check-then-write race
            except FileExistsError as exc:
                raise IdentityExists("%s already exists; refusing to overwrite it" % path, path) from exc
            os.unlink(tmp)
        fsync_dir(directory)
    except OSError as exc:
        raise IdentityError("cannot write %s: %s" % (path, exc.strerror), path) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def make_private_dir(path):
    """Create ``path`` (and parents) with mode 0700, or check an existing one."""
    if not os.path.isdir(path):
        try:
            os.makedirs(path, mode=DIR_MODE)
            os.chmod(path, DIR_MODE)     # makedirs' mode is masked by the umask
            fsync_dir(os.path.dirname(os.path.abspath(path)))
        except OSError as exc:
            raise IdentityError("cannot create data directory %s: %s" % (path, exc.strerror), path) from exc
    check_mode(path, "data directory", 0o077, DIR_MODE)


def check_mode(path, what, forbidden, expected):
    """Refuse ``path`` if any of the ``forbidden`` permission bits is set.

    Raises:
        InsecurePermissions: with the chmod that repairs it.
        IdentityError: the path cannot be examined.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise IdentityError("cannot examine %s %s: %s" % (what, path, exc.strerror), path) from exc
    mode = stat.S_IMODE(st.st_mode)
    if mode & forbidden:
        raise InsecurePermissions("%s %s has mode %04o, open to other users; run: chmod %o %s"
                                  % (what, path, mode, expected, path), path, mode, expected)
    return mode


def read_private(path, what, forbidden=0o077):
    """Read a file after checking that other users cannot read or change it (see ``check_mode``)."""
    check_mode(path, what, forbidden, FILE_MODE)
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise IdentityError("cannot read %s %s: %s" % (what, path, exc.strerror), path) from exc
