"""A small bounds-checked FlatBuffers reader for untrusted files.

Only what the TFLite reader needs: tables (through their vtables), scalars, strings,
vectors of scalars and of tables. Every offset, size and length is checked against the
file before it is used, and alignment is never assumed (struct.unpack_from and
np.frombuffer read unaligned data). FlatBuffers lets many offsets point at one table, so
a small hostile file could make a naive reader walk the same data again and again: every
table opened and every vector element read is charged to a budget proportional to the
file's size, which an honest file (each table read once) never exhausts.

Field ids are the n-th field of a table in the .fbs schema; its vtable entry is at 4 + 2 * id.
"""

from __future__ import annotations

import struct
from typing import NoReturn

import numpy as np

from mcugen.errors import McugenError

SIZES = {"b": 1, "B": 1, "?": 1, "h": 2, "H": 2, "i": 4, "I": 4, "q": 8, "Q": 8, "f": 4}


class Reader:
    """The file's bytes, its name for messages, and the work budget."""

    def __init__(self, data: bytes, source: str, budget: int | None = None):
        self.data = memoryview(data)
        self.source = source
        self.budget = 4 * len(data) + (1 << 16) if budget is None else budget

    def fail(self, where: str, why: str) -> NoReturn:
        raise McugenError(f"{self.source}: corrupt TFLite file: {where}: {why}")

    def refuse(self, where: str, why: str) -> NoReturn:
        """A well-formed file that uses what mcugen does not support."""
        raise McugenError(f"{self.source}: {where}: {why}")

    def check(self, pos: int, size: int, where: str) -> None:
        if pos < 0 or size < 0 or pos + size > len(self.data):
            self.fail(where, f"{size} bytes at offset {pos} lie outside the file ({len(self.data)} bytes)")

    def scalar(self, fmt: str, pos: int, where: str):
        self.check(pos, SIZES[fmt], where)
        return struct.unpack_from("<" + fmt, self.data, pos)[0]

    def spend(self, amount: int, where: str) -> None:
        self.budget -= amount
        if self.budget < 0:
            self.fail(where, "the file refers to the same data too many times")

    def root(self, where: str) -> Table:
        return Table(self, self.scalar("I", 0, where), where)


class Table:
    """One table: its position, its vtable, and `where` (a path like subgraphs[0].tensors[3])."""

    def __init__(self, reader: Reader, pos: int, where: str):
        reader.spend(1, where)
        self.r, self.pos, self.where = reader, pos, where
        self.vtable = pos - reader.scalar("i", pos, where)
        self.vt_size = reader.scalar("H", self.vtable, where + " (vtable)")
        self.size = reader.scalar("H", self.vtable + 2, where + " (vtable)")
        if self.vt_size < 4 or self.vt_size % 2 or self.size < 4:
            reader.fail(where, f"bad vtable (size {self.vt_size}, table size {self.size})")
        reader.check(self.vtable, self.vt_size, where + " (vtable)")
        reader.check(pos, self.size, where)

    def _field(self, fid: int, size: int, name: str) -> int | None:
        """The absolute position of a present field of `size` bytes, checked inside the table."""
        entry = 4 + 2 * fid
        if entry + 2 > self.vt_size:
            return None  # an older writer: the field is absent
        offset = self.r.scalar("H", self.vtable + entry, self.where)
        if offset == 0:
            return None
        if offset + size > self.size:
            self.r.fail(f"{self.where}.{name}", f"field at {offset} lies outside its table of {self.size} bytes")
        return self.pos + offset

    def has(self, fid: int) -> bool:
        entry = 4 + 2 * fid
        return entry + 2 <= self.vt_size and self.r.scalar("H", self.vtable + entry, self.where) != 0

    def scalar(self, fid: int, fmt: str, default, name: str):
        pos = self._field(fid, SIZES[fmt], name)
        return default if pos is None else self.r.scalar(fmt, pos, f"{self.where}.{name}")

    def _target(self, fid: int, name: str) -> int | None:
        """Where an offset field (table, vector, string) points."""
        pos = self._field(fid, 4, name)
        return None if pos is None else pos + self.r.scalar("I", pos, f"{self.where}.{name}")

    def table(self, fid: int, name: str) -> Table | None:
        target = self._target(fid, name)
        return None if target is None else Table(self.r, target, f"{self.where}.{name}")

    def _vector(self, fid: int, elem: int, name: str) -> tuple[int, int] | None:
        """(first element's position, length), the whole vector checked inside the file."""
        target = self._target(fid, name)
        if target is None:
            return None
        where = f"{self.where}.{name}"
        length = self.r.scalar("I", target, where)
        self.r.check(target + 4, length * elem, where)
        return target + 4, length

    def array(self, fid: int, fmt: str, name: str) -> np.ndarray:
        """A vector of scalars as a numpy array (empty when absent)."""
        found = self._vector(fid, SIZES[fmt], name)
        if found is None:
            return np.zeros(0, np.dtype("<" + fmt))
        start, length = found
        self.r.spend(length, f"{self.where}.{name}")
        return np.frombuffer(self.r.data, np.dtype("<" + fmt), length, start).copy()

    def bytes(self, fid: int, name: str) -> memoryview | None:
        """A vector of bytes, not copied (constant data): None when absent."""
        found = self._vector(fid, 1, name)
        return None if found is None else self.r.data[found[0]: found[0] + found[1]]

    def string(self, fid: int, name: str) -> str:
        raw = self.bytes(fid, name)
        if raw is None:
            return ""
        self.r.spend(len(raw), f"{self.where}.{name}")
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            self.r.fail(f"{self.where}.{name}", "not valid UTF-8")

    def tables(self, fid: int, name: str) -> list[Table]:
        found = self._vector(fid, 4, name)
        if found is None:
            return []
        start, length = found
        self.r.spend(length, f"{self.where}.{name}")
        out = []
        for i in range(length):
            pos = start + 4 * i
            out.append(Table(self.r, pos + self.r.scalar("I", pos, self.where), f"{self.where}.{name}[{i}]"))
        return out
