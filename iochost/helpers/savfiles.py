"""One save set on disk: ``X.sav`` and its backups, written so that nothing is ever lost.

Files of a save set ``X`` in its directory (synApps' names):

* ``X.sav``: the latest complete save;
* ``X.savB``: the previous complete save;
* ``X.sav0`` .. ``X.sav<N-1>``: sequence copies of ``X.sav``, the oldest overwritten;
* ``X.sav_yymmdd-HHMMSS``: a dated copy of the file restored from, made at each start,
  pruned to the newest ``dated_copies``;
* ``X.sav_RBAD_yymmdd-HHMMSS`` (``X.savB_RBAD_...``, ``X.sav0_RBAD_...``): a file that
  did not parse, set aside when found.

Writing (``write``) never leaves a moment without a complete ``X.sav`` or ``X.savB``: the
text goes to a temporary file in the same directory, which is flushed and fsync'ed; the
current ``X.sav`` is hard-linked to a temporary name that replaces ``X.savB`` (atomic);
the temporary file replaces ``X.sav`` (atomic); the directory is fsync'ed so the renames
survive a power cut. A process killed at any instant leaves ``X.sav`` holding either the
new or the previous text, and ``X.savB`` a complete older one.

Reading (``load``) tries ``X.sav``, then ``X.savB``, then the sequence files newest first
(synApps' ``fopen_and_check`` order). A file that exists but does not parse or lacks the
end marker is renamed to ``<its name>_RBAD_<date>`` (so a later save cannot rotate it into
``X.savB``) and the next one is tried.
"""
from __future__ import annotations

import itertools
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .savfile import DATE_FORMAT, SavFile, SavFormatError, parse_sav

__all__ = ["LoadResult", "SaveFileSet", "fsync_directory"]

_TEMP_MARK = ".tmp-"
_TEMP_NUMBERS = itertools.count()


def fsync_directory(directory: Path) -> None:
    """Make renames in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass
class LoadResult:
    """What ``load`` found: the parsed file and its path (None when no usable file exists),
    whether it is a fallback (not ``X.sav``), and the files set aside on the way (a file
    that could not be read stays where it is: its ``new`` path is its own)."""

    sav: SavFile | None = None
    path: Path | None = None
    fallback: bool = False
    set_aside: list[tuple[Path, Path, str]] = field(default_factory=list)  # (bad, new, why)

    @property
    def problems(self) -> list[str]:
        return [f"{bad.name} {why}" if new == bad else f"{why}; set aside as {new.name}"
                for bad, new, why in self.set_aside]


class SaveFileSet:
    """The files of save set ``name`` (without ``.sav``) in ``directory``."""

    def __init__(self, directory: str | os.PathLike[str], name: str, *,
                 sequence_files: int = 3, dated_copies: int = 10,
                 encoding: str = "latin-1") -> None:
        self.directory = Path(directory).expanduser()   # "~/autosave" in a host config
        self.name = name
        self.sequence_files = sequence_files
        self.dated_copies = dated_copies
        self.encoding = encoding
        self._next_sequence = 0
        # writes run in worker threads; a cancelled save's thread may still be writing when
        # the next save starts, so the steps of one write never interleave with another's
        self._writing = threading.Lock()

    # -- names --------------------------------------------------------------------------------
    @property
    def sav(self) -> Path:
        return self.directory / f"{self.name}.sav"

    @property
    def backup(self) -> Path:
        return self.directory / f"{self.name}.savB"

    def sequence(self, index: int) -> Path:
        return self.directory / f"{self.name}.sav{index}"

    def _stamped(self, base: str, when: datetime | None = None) -> Path:
        """``<base><yymmdd-HHMMSS>`` in the directory (``.1``, ``.2`` ... if taken)."""
        stamp = (when or datetime.now()).strftime(DATE_FORMAT)
        path = self.directory / f"{base}{stamp}"
        suffix = 1
        while path.exists():                 # two in one second: keep both
            path = self.directory / f"{base}{stamp}.{suffix}"
            suffix += 1
        return path

    def dated_files(self) -> list[Path]:
        """The dated copies, oldest first."""
        pattern = f"{self.name}.sav_[0-9]*"
        return sorted(self.directory.glob(pattern), key=lambda path: path.name)

    # -- writing ------------------------------------------------------------------------------
    def ensure_directory(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def _temp_name(self, name: str) -> Path:
        return self.directory / f".{name}{_TEMP_MARK}{os.getpid()}-{next(_TEMP_NUMBERS)}"

    def write(self, text: str) -> None:
        """Replace ``X.sav`` with ``text``, keeping the previous one as ``X.savB``.
        Raises OSError (read-only or full disk ...) with the old files untouched and no
        temporary file left (a partly written one would keep a full disk full)."""
        with self._writing:
            self.ensure_directory()
            temp = self._temp_name(self.name)
            try:
                with open(temp, "w", encoding=self.encoding, newline="\n") as stream:
                    stream.write(text)
                    stream.flush()
                    os.fsync(stream.fileno())
                if self.sav.exists():
                    link = self._temp_name(f"{self.name}.savB")
                    os.link(self.sav, link)
                    os.replace(link, self.backup)
                os.replace(temp, self.sav)
            finally:
                temp.unlink(missing_ok=True)
            fsync_directory(self.directory)

    def write_sequence(self) -> Path | None:
        """Copy ``X.sav`` to the next sequence file (atomically); None if there is none."""
        if self.sequence_files <= 0 or not self.sav.exists():
            return None
        with self._writing:
            target = self.sequence(self._next_sequence)
            self._next_sequence = (self._next_sequence + 1) % self.sequence_files
            self._atomic_copy(self.sav, target)
        return target

    def dated_copy(self, source: Path, when: datetime | None = None) -> Path:
        """Copy ``source`` (the file restored from) to ``X.sav_yymmdd-HHMMSS``, then prune
        the dated copies to the newest ``dated_copies``."""
        target = self._stamped(f"{self.name}.sav_", when)
        self._atomic_copy(source, target)
        for old in self.dated_files()[:-self.dated_copies or None]:
            old.unlink(missing_ok=True)
        return target

    def _atomic_copy(self, source: Path, target: Path) -> None:
        temp = self._temp_name(target.name)
        try:
            shutil.copyfile(source, temp)
            with open(temp, "rb+") as stream:
                os.fsync(stream.fileno())
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        fsync_directory(self.directory)

    def remove_stale_temporaries(self) -> list[str]:
        """Delete temporary files a killed writer left behind (never a real save file);
        returns why some could not be (a read-only directory): housekeeping only."""
        problems = []
        for temp in self.directory.glob(f".{self.name}*{_TEMP_MARK}*"):
            try:
                temp.unlink(missing_ok=True)
            except OSError as error:
                problems.append(f"cannot remove {temp.name}: {error.strerror or error}")
        return problems

    # -- reading ------------------------------------------------------------------------------
    def candidates(self) -> Iterator[Path]:
        """``X.sav``, ``X.savB``, then the sequence files newest first."""
        yield self.sav
        yield self.backup
        sequences = [self.sequence(index) for index in range(self.sequence_files)]
        existing = [path for path in sequences if path.exists()]
        yield from sorted(existing, key=lambda path: path.stat().st_mtime, reverse=True)

    def load(self) -> LoadResult:
        """The newest file that parses (see the module docstring); bad ones are set aside."""
        result = LoadResult()
        for index, path in enumerate(self.candidates()):
            try:
                text = path.read_text(encoding=self.encoding)
            except FileNotFoundError:
                continue
            except OSError as error:   # dbrestore: "Can't open save file", try the next one
                result.set_aside.append((path, path, f"cannot be read: "
                                         f"{error.strerror or error}"))
                continue
            try:
                sav = parse_sav(text, str(path))
            except SavFormatError as error:
                aside = self._stamped(f"{path.name}_RBAD_")   # synApps: X.savB_RBAD_...
                try:
                    os.replace(path, aside)
                except OSError:
                    aside = path
                result.set_aside.append((path, aside, str(error)))
                continue
            result.sav, result.path, result.fallback = sav, path, index > 0
            return result
        return result
