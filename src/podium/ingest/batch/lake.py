"""The data lake as batch jobs see it: a root URL (a local directory by default, any
fsspec URL otherwise) where files are published, listed and removed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fsspec.core import url_to_fs

from podium.prep.engine import protocol_of


class Lake:
    """Paths under the lake root; `publish` moves a finished local file into place."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = url_to_fs(self.url)
        self.local = protocol_of(self.url) in ("", "file", "local")

    def path(self, *parts: str) -> str:
        """The URL of `parts` under the root (a plain path for a local lake)."""
        rel = "/".join(p.strip("/") for p in parts if p)
        return f"{self.url}/{rel}" if rel else self.url

    def publish(self, local_file: Path, *parts: str) -> str:
        """Move `local_file` to `parts` under the root; returns its URL. On a local lake this
        is a rename when on the same device, so the file appears whole."""
        target = self.path(*parts)
        if self.local:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(local_file, target)
            except OSError:
                # Another device: copy beside the target, then rename into place.
                tmp = Path(target).with_name("." + Path(target).name + ".tmp")
                shutil.copyfile(local_file, tmp)
                os.replace(tmp, target)
                local_file.unlink(missing_ok=True)
        else:
            self.fs.put_file(str(local_file), self.fs._strip_protocol(target))
            local_file.unlink(missing_ok=True)
        return target

    def remove(self, url: str) -> None:
        """Delete a file if it exists."""
        fs, path = url_to_fs(url)
        if fs.exists(path):
            fs.rm(path)

    def find(self, *parts: str) -> list[str]:
        """Every file under `parts` (URLs), or [] when the folder does not exist."""
        fs_path = self.fs._strip_protocol(self.path(*parts))
        if not self.fs.exists(fs_path):
            return []
        found = self.fs.find(fs_path)
        return [f if self.local else self.fs.unstrip_protocol(f) for f in found]
