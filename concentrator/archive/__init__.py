"""The meter archive (电表档案): which meters the concentrator reads, on which line.

One row per meter: its address (and Modbus unit id), protocol, line and the
line's port settings, transformer area (台区), role (customer or the area's
supply meter 台区总表), customer number (户号), phases and CT/PT ratios. The
archive lives in the agent's SQLite file (``archive_*`` tables) and is filled
from CSV or TOML files, checked as a whole before anything changes.

    with Archive("concentrator.db") as archive:
        summary = archive.import_file("archive.csv", mode="replace")
        for line in archive.lines():
            ...

Customer numbers are masked (``mask_customer``) wherever they are shown
(S-01); ``ArchiveMeter.customer`` itself holds the full number.
"""

from ._errors import MAX_PROBLEMS, ArchiveError, ArchiveFileError, ArchiveStoreError, Problem, Where
from ._fields import (FIELDS, STANDARD_BAUDS, ArchiveMeter, canonical_field, make_meter, mask_customer,
                      meter_from_fields, modbus_models, record_area)
from ._files import (FORMATS, ParsedArchive, dump_csv, dump_toml, format_of, load_archive_file, parse_archive,
                     write_archive_file)
from ._rules import check_archive
from ._store import DEFAULT_DB, MODES, SCHEMA_VERSION, Archive, ArchiveLine, ImportSummary

__all__ = [
    "Archive", "ArchiveError", "ArchiveFileError", "ArchiveLine", "ArchiveMeter", "ArchiveStoreError",
    "DEFAULT_DB", "FIELDS", "FORMATS", "ImportSummary", "MAX_PROBLEMS", "MODES", "ParsedArchive", "Problem",
    "SCHEMA_VERSION", "STANDARD_BAUDS", "Where", "canonical_field", "check_archive", "dump_csv", "dump_toml",
    "format_of", "load_archive_file", "make_meter", "mask_customer", "meter_from_fields", "modbus_models",
    "parse_archive", "record_area", "write_archive_file",
]
