"""The audit log as a JSON Lines file: one applied write per line, appended and fsynced.

Appends hold a thread lock and an exclusive flock, so several threads (and several meshdash
processes sharing the file) never interleave lines. Reads go backwards from the end of the file,
so the newest entries come first without reading a long history.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from mesh.releases.audit import AuditEntry

log = logging.getLogger("meshdash.audit")
_BLOCK = 64 * 1024


class AuditLog:
    """Append-only JSON Lines audit trail at `path` (parent directories are created)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def record(self, entries: Sequence[AuditEntry]) -> None:
        """Append entries as one write, then fsync: an answered change is on disk."""
        if not entries:
            return
        data = "".join(
            json.dumps(e.to_json(), sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"
            for e in entries
        ).encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                size = os.fstat(fd).st_size
                # A line cut short by a crash must not swallow the next entry.
                prefix = b"\n" if size and os.pread(fd, 1, size - 1) != b"\n" else b""
                view = memoryview(prefix + data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)  # closing releases the flock

    def history(
        self,
        *,
        namespace: str | None = None,
        service: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest first, optionally for one namespace and/or service."""
        out: list[AuditEntry] = []
        if limit <= 0:
            return out
        for line in self._lines_backwards():
            try:
                entry = AuditEntry.from_json(json.loads(line))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                log.warning("skipping unreadable audit line in %s: %s", self.path, exc)
                continue
            if namespace and entry.namespace != namespace:
                continue
            if service and entry.service != service:
                continue
            out.append(entry)
            if len(out) >= limit:
                break
        return out

    def _lines_backwards(self) -> Iterator[bytes]:
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed in the finally below
        except FileNotFoundError:
            return
        try:
            f.seek(0, os.SEEK_END)
            pos = f.tell()
            tail = b""
            while pos > 0:
                size = min(_BLOCK, pos)
                pos -= size
                f.seek(pos)
                chunk = f.read(size) + tail
                lines = chunk.split(b"\n")
                tail = lines.pop(0)
                for line in reversed(lines):
                    if line.strip():
                        yield line
            if tail.strip():
                yield tail
        finally:
            f.close()
