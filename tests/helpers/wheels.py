"""Wheels written by tests, so pip can install from a local wheelhouse without the network."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def wheel(folder: Path, name: str, tag: str, module: str = "") -> None:
    """A minimal wheel (PEP 427): the module, METADATA, WHEEL and a RECORD with each file's hash."""
    dist = f"{name}-1.0"
    files = {
        f"{name}/__init__.py": module or f"VALUE = {name!r}\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{dist}.dist-info/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist}.dist-info/RECORD"] = "\n".join([*record, f"{dist}.dist-info/RECORD,,"]) + "\n"
    with zipfile.ZipFile(folder / f"{dist}-{tag}.whl", "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
