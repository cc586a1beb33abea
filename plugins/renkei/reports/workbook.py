"""Workbook helpers shared by the Excel reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path


def save_reproducibly(wb, path: Path, stamp: dt.datetime) -> None:
    """Save a workbook whose bytes depend only on its content.

    ``Workbook.save`` stamps the document and every zip entry with the current time; here
    both carry ``stamp`` (the report's month) instead, so a re-run writes the same file.
    """
    from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

    from openpyxl.writer.excel import ExcelWriter

    class PinnedZip(ZipFile):
        def writestr(self, zinfo_or_arcname, data, *args, **kwargs):
            if isinstance(zinfo_or_arcname, str):
                zinfo_or_arcname = ZipInfo(zinfo_or_arcname, date_time=stamp.timetuple()[:6])
                zinfo_or_arcname.compress_type = ZIP_DEFLATED
            super().writestr(zinfo_or_arcname, data, *args, **kwargs)

        def write(self, filename, arcname=None, *args, **kwargs):  # worksheets go via temp files
            with open(filename, "rb") as fh:
                self.writestr(arcname or Path(filename).name, fh.read())

    wb.properties.created = stamp
    wb.properties.modified = stamp
    ExcelWriter(wb, PinnedZip(path, "w", ZIP_DEFLATED, allowZip64=True)).save()
