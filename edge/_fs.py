"""File-system durability helpers shared by the device runtime."""

import os


def fsync_dir(path):
    """fsync a directory, so that a rename or a new name in it is durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
