"""Where a download goes: a caller's file object, a path written atomically, or a folder.

A path is written to a hidden temporary file beside it and moved into place only on
``commit()``; ``discard()`` removes it, so no partial file is ever left and an existing file
is never touched.
"""
from __future__ import annotations

import io
import os
import stat
from typing import IO, Any, Optional, Set, Union

from ._names import numbered, split_ext
from ._parts import hold, remove_stale, remove_stale_once, temp_name
from .errors import ConfigError, DestinationExistsError

PathLike = Union[str, "os.PathLike[str]"]
Dest = Union[PathLike, IO[bytes]]
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
class AtomicFile:
    """A file that appears at ``path`` only on ``commit()``; ``discard()`` leaves no trace."""

    copies = True  # what is written is copied at once: the caller may reuse its buffer

    def __init__(self, path: str, overwrite: bool) -> None:
        self.path = path
        self.overwrite = overwrite
        folder, name = os.path.split(path)
        remove_stale_once(folder or ".", name)  # what a killed download of this target left
        self.temp_path = os.path.join(folder, temp_name(name))
        # O_EXCL: never write through a file or link that someone else put there;
        # mode 0o666 lets the umask decide, as for any file the user creates.
        fd = os.open(self.temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
        try:
            hold(fd)  # "alive", until this file is committed or discarded
            self.file: IO[bytes] = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            os.unlink(self.temp_path)
            raise

    def write(self, data: bytes) -> None:
        try:
            self.file.write(data)
        except OSError as exc:  # a full disk, a quota: say which file
            raise _naming(exc, self.path) from exc

    def commit(self) -> None:
        try:
            self.file.flush()  # a full disk may show only now
            if os.name == "nt":
                self.file.close()  # Windows moves no open file; elsewhere its lock holds till moved
        except OSError as exc:
            raise _naming(exc, self.path) from exc
        try:
            self._move()
        finally:
            self.file.close()

    def _move(self) -> None:
        if self.overwrite:
            self._mode_of_replaced()
            os.replace(self.temp_path, self.path)
            return
        try:
            # A hard link fails if the target appeared meanwhile: no race with another writer.
            os.link(self.temp_path, self.path)
        except FileExistsError:
            self.discard()
            raise _exists(self.path) from None
        except OSError:  # file systems without hard links (FAT, some network mounts)
            if os.path.exists(self.path):
                self.discard()
                raise _exists(self.path) from None
            os.replace(self.temp_path, self.path)
            return
        os.unlink(self.temp_path)

    def _mode_of_replaced(self) -> None:
        """The file that replaces another gets its permissions: a 0600 file never comes back
        0644 (the umask's) because a download replaced it."""
        try:
            mode = stat.S_IMODE(os.stat(self.path).st_mode)
        except OSError:  # nothing there (or unreadable): the umask decides, as for a new file
            return
        os.chmod(self.temp_path, mode)

    def discard(self) -> None:
        try:
            self.file.close()  # on a full disk its flush fails too; the file is closed all the same
        except OSError:
            pass
        try:
            os.unlink(self.temp_path)
        except FileNotFoundError:
            pass


def _position(file: IO[bytes]) -> Optional[int]:
    """The position of a file object that can seek and truncate, else None."""
    try:
        if not (file.seekable() and hasattr(file, "truncate")):
            return None
        return file.tell()
    except (AttributeError, OSError, ValueError):
        return None


def _checked_file(file: Any) -> IO[bytes]:
    """A file object a download can write bytes to, else a ConfigError before any request."""
    if not hasattr(file, "write"):
        raise ConfigError("dest must be a path, a folder or a binary file object, not %r" % type(file).__name__)
    if getattr(file, "closed", False):
        raise ConfigError("dest is a closed file")
    mode = getattr(file, "mode", "b")  # (GzipFile's is a number)
    if isinstance(file, io.TextIOBase) or (isinstance(mode, str) and "b" not in mode):
        raise ConfigError("dest is a text file: open it in binary mode (\"wb\")")
    writable = getattr(file, "writable", None)
    if writable is not None and not writable():
        raise ConfigError("dest is not open for writing (open it with \"wb\")")
    return file  # type: ignore[no-any-return]


def _exists(path: str) -> DestinationExistsError:
    """Said to a caller of the library and to a user of the command alike."""
    return DestinationExistsError("%s exists (to replace it: overwrite=True, or --overwrite on the command line)"
                                  % path)


def _naming(exc: OSError, path: str) -> OSError:
    """``exc`` with the path of the file being written, when it names none."""
    if exc.filename is not None or exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror or str(exc), path)


_COPYING = (io.FileIO, io.BufferedWriter, io.BufferedRandom, io.BytesIO)


class _FileObject:
    """A caller's file object: written as is; on failure what was written stays (theirs)."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.path: Optional[str] = None
        self.start = _position(file)  # where to rewind to, if it can be
        # The standard library's files copy what they are given; another object may keep it.
        self.copies = type(file) in _COPYING

    def restart(self) -> bool:
        """Rewind to where the download began writing, and cut what came after, if the file
        can be (a socket or a pipe cannot)."""
        if self.start is None:
            return False
        self.file.seek(self.start)
        self.file.truncate()
        return True

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self) -> None:
        flush = getattr(self.file, "flush", None)
        if flush is not None:
            flush()

    def discard(self) -> None:
        pass


class Target:
    """Where a download goes: a file object, a file path, or an existing folder.

    ``add_extension``: a path without an extension gets the one of the name the server
    offers (or of its Content-Type). ``taken``: names already used in this folder by the
    same batch; a name met again gets `` (2)``, `` (3)`` … before its extension.
    """

    def __init__(
        self, dest: Dest, overwrite: bool, add_extension: bool = False, taken: Optional[Set[str]] = None,
        skip_existing: bool = False,
    ) -> None:
        self.overwrite = overwrite
        self.skip_existing = skip_existing
        self.add_extension = add_extension
        self.taken = taken
        self.file: Optional[IO[bytes]] = None
        self.folder: Optional[str] = None
        self.path: Optional[str] = None
        if dest is None:  # nothing would keep the bytes: say so rather than drop them
            raise ConfigError("dest is required: a file object, a path or a folder "
                              "(to keep the bytes in memory, use read_resource or open_resource)")
        if not isinstance(dest, (str, bytes, os.PathLike)):
            self.file = _checked_file(dest)
            return
        path = os.fspath(dest)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not path.strip():
            raise ConfigError("dest is an empty path: give a file, a folder or a binary file object")
        if path.endswith(("/", os.sep)):  # "downloads/": a folder, made if missing
            try:
                os.makedirs(path, exist_ok=True)
            except (FileExistsError, NotADirectoryError):  # a file where a folder must be
                raise ConfigError("%s cannot be a folder: a file of that name (or of one above it) is there"
                                  % path) from None
        if os.path.isdir(path):
            self.folder = path
            return
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ConfigError("the folder of %s does not exist" % path)
        self.path = path
        self.check_free(path)

    def check_free(self, path: str) -> None:
        if not self.overwrite and os.path.lexists(path):
            raise _exists(path)

    def existing(self, name: str, size: Optional[int]) -> Optional[str]:
        """With ``skip_existing``: the path a file of this name and ``size`` already holds
        (a rerun's), so the download is skipped; else None."""
        if not self.skip_existing or size is None or self.file is not None:
            return None
        unique = self._unique(name, claim=False)
        path = self.path if self.path is not None else os.path.join(self.folder or ".", unique)
        if self.add_extension and self.path is not None and not split_ext(os.path.basename(path))[1]:
            path += split_ext(name)[1]
        try:
            found = os.stat(path)
        except OSError:
            return None
        if not (stat.S_ISREG(found.st_mode) and found.st_size == size):
            return None
        if self.path is None:
            self._unique(name)  # its name stays taken: the batch's next file of this name gets " (2)"
        return path

    def open(self, name: str) -> Union[AtomicFile, _FileObject]:
        """The sink to write into; ``name`` is used when the target is a folder."""
        if self.file is not None:
            return _FileObject(self.file)
        path = self.path
        if path is None:
            path = os.path.join(self.folder or ".", self._unique(name))
        elif self.add_extension and not split_ext(os.path.basename(path))[1]:
            path += split_ext(name)[1]
        self.check_free(path)
        return AtomicFile(path, self.overwrite)

    def _unique(self, name: str, claim: bool = True) -> str:
        if self.taken is None:
            return name
        candidate, n = name, 1
        while candidate.lower() in self.taken:  # lower(): case-insensitive file systems
            n += 1
            candidate = numbered(name, n)
        if claim:
            self.taken.add(candidate.lower())
        return candidate


remove_stale_parts = remove_stale  # the public name the export and tests use
