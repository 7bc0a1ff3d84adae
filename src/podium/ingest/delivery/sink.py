"""Writing delivered objects to the lake so that each appears whole or not at all.

Objects are written under a temporary name beside their final one and then renamed (on a
local lake, with fsync of the file and its directory first, so a checkpoint taken after the
rename never points past data that a power cut could lose). Other fsspec filesystems use
write-then-move; on object stores a PUT is atomic on its own. Failures are retried with
exponential back-off for up to `retry_duration_s`.
"""

from __future__ import annotations

import os
import posixpath
import time
import uuid
from collections.abc import Callable
from typing import Any

from podium.errors import BackendUnavailableError


class LakeSink:
    def __init__(
        self,
        lake_url: str,
        retry_duration_s: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import fsspec
        from fsspec.implementations.local import LocalFileSystem

        self.fs: Any
        self.fs, self.root = fsspec.core.url_to_fs(lake_url)
        self.local = isinstance(self.fs, LocalFileSystem)
        self.retry_duration_s = retry_duration_s
        self.sleep = sleep
        self.retries = 0

    def path(self, relative: str) -> str:
        return posixpath.join(self.root, relative)

    def write(self, relative: str, data: bytes) -> str:
        """Write `data` at `relative` (under the lake root) atomically; returns the full path."""
        final = self.path(relative)
        delay, deadline = 0.05, time.monotonic() + self.retry_duration_s
        while True:
            try:
                self._write_once(final, data)
                return final
            except OSError as exc:
                if time.monotonic() + delay > deadline:
                    raise BackendUnavailableError(
                        f"cannot write {final} to the lake after {self.retries} retries: {exc}"
                    ) from exc
                self.retries += 1
                self.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _write_once(self, final: str, data: bytes) -> None:
        directory, name = posixpath.split(final)
        temp = posixpath.join(directory, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
        if self.local:
            os.makedirs(directory, exist_ok=True)
            try:
                with open(temp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(temp, final)
            except BaseException:
                if os.path.exists(temp):
                    os.unlink(temp)
                raise
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            return
        self.fs.makedirs(directory, exist_ok=True)
        self.fs.pipe_file(temp, data)
        self.fs.mv(temp, final)
