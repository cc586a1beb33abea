"""One module per exchange interface: how its files are named, read, tokenised and staged."""

from __future__ import annotations

from pathlib import Path


class ReadFile:
    """What the read of a file that holds My Numbers returns (``records``: keep them in memory,
    never in XCom or logs). Its repr names the file and the count only, so a stray log line
    cannot print the numbers; subclasses are frozen dataclasses declared with ``repr=False``."""

    source: Path
    data_record_count: int

    @property
    def file_name(self) -> str:
        return self.source.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.file_name!r}, {self.data_record_count} records)"
