"""Reading one table of a kiosk TOML file, for the config loaders of kiosk's parts.

Each part (queue, web, printing, rating) has its own error class with the
signature ``(source, key, expected, got)``; this module raises the one it is
given, so a mistake is reported by the part whose table it is.
"""

import tomllib


def read_table(path, table, error, required=True):
    """The ``[table]`` of the TOML file ``path``.

    Args:
        path: the file.
        table: the top-level table's name ("queue", "web", ...).
        error: the error class to raise, called as ``error(source, key, expected, got)``.
        required: when False, a missing table gives ``{}`` (the part's defaults).

    Returns:
        ``(value, source)``: the table's value (not checked to be a table) and
        the file name as text.

    Raises:
        error: the file cannot be read or is not TOML (key "(file)"), or the
            table is required and missing.
    """
    source = str(path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as exc:
        raise error(source, "(file)", "a readable TOML file", exc.strerror or str(exc)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(source, "(file)", "valid TOML", str(exc)) from exc
    if table not in doc:
        if required:
            raise error(source, table, "a [%s] table" % table, "no such table")
        return {}, source
    return doc[table], source
