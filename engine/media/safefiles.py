"""Writing outputs so that nothing already on disk is lost.

Every file uniskel writes for a user (annotated videos, keypoint records, reports,
exported models, checkpoints) is written under a temporary name beside its target
(``partial_path``: hidden, same folder, same extension) and renamed over the target
only once it is whole (``os.replace``: the old file or the new one, never half of
either). A run that is refused or fails before that leaves the target as it was and no
temporary behind.

Before anything is opened, ``check_output`` refuses in one line what can be known to
fail: a target that is a folder, a folder that cannot exist or be written (read-only,
no permission), and an output that is one of the command's inputs (the same file, also
through a symlink or a hard link: ``os.path.samefile``).
"""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
from pathlib import Path

from uniskel.engine.errors import UniskelError, held_signals


def partial_path(target) -> Path:
    """Where ``target`` is written until it is whole: a hidden name in the same folder
    (so the rename is atomic) with the same extension (OpenCV picks the container by
    it), unique per process. Partial files of ``target`` that a process which no longer
    runs left behind (killed with SIGKILL, a power cut) are removed here."""
    target = written_through(target)
    prefix = f".{target.stem}.partial-"
    with contextlib.suppress(OSError):
        for old in target.parent.glob(glob.escape(prefix) + "*" + glob.escape(target.suffix)):
            pid = old.name[len(prefix):len(old.name) - len(target.suffix)]
            if pid.isdigit() and not _running(int(pid)):
                old.unlink(missing_ok=True)
    return target.with_name(f"{prefix}{os.getpid()}{target.suffix}")


def written_through(target) -> Path:
    """The file ``target`` names: a symlink's destination (the output replaces the file
    the link points at, and the link stays), else ``target`` itself."""
    target = Path(target)
    return Path(os.path.realpath(target)) if target.is_symlink() else target


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (True where that cannot be told)."""
    if pid == os.getpid() or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def same_file(a, b) -> bool:
    """``a`` and ``b`` are one file on disk (the same path, a symlink, a hard link)."""
    try:
        if os.path.abspath(a) == os.path.abspath(b):  # also before either exists
            return True
        return os.path.samefile(a, b)
    except (OSError, ValueError, TypeError):
        return False


def _existing_ancestor(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _why_not_writable(folder: Path) -> str:
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except (OSError, AttributeError):
        pass
    return "permission denied"


def check_output(target, what: str = "output", inputs: dict | None = None) -> None:
    """Refuse, in one line naming ``target``, an output that cannot be written there or
    that is one of ``inputs`` ({what it is: path}); creates nothing."""
    if target is None:
        return
    target = Path(target)
    for name, path in (inputs or {}).items():
        if path is not None and same_file(target, path):
            raise UniskelError(f"{target}: refused as the {what}: it is the {name} "
                               f"({path}); write to another file")
    if target.is_dir():
        raise UniskelError(f"{target}: cannot write the {what} there (it is a folder)")
    folder = _existing_ancestor(target.absolute().parent)
    if not folder.is_dir():
        raise UniskelError(f"{target}: cannot write the {what} there ({folder} is not a "
                           f"folder)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UniskelError(f"{target}: cannot write the {what} there ({folder}: "
                           f"{_why_not_writable(folder)})")
    if target.exists() and not os.access(target, os.W_OK):
        raise UniskelError(f"{target}: cannot write the {what} there (the file is read-only)")


def make_folder(target, what: str = "output") -> None:
    """Create ``target``'s folder; one line if it cannot exist."""
    try:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UniskelError(f"{target}: cannot write the {what} there "
                           f"({exc.strerror or exc})") from None


def discard(path) -> None:
    """Remove a temporary; quietly, it may not exist."""
    try:
        os.unlink(path)
    except OSError:
        pass


def commit(partial, target, what: str = "output") -> None:
    """Put the whole ``partial`` in ``target``'s place (signals held meanwhile); on
    failure the partial file is removed and the target is as it was."""
    target = written_through(target)
    with held_signals():
        try:
            with contextlib.suppress(OSError):  # a replaced file keeps its permissions
                if target.exists():
                    shutil.copymode(target, partial)
            os.replace(partial, target)
        except OSError as exc:
            discard(partial)
            raise UniskelError(f"{target}: cannot write the {what} "
                               f"({exc.strerror or exc})") from None


@contextlib.contextmanager
def replacing(target, what: str = "output", fsync: bool = True):
    """``with replacing(path) as tmp:`` write ``tmp``; once the block ends well it becomes
    ``path``; whatever stops the block (an error, Ctrl+C) removes ``tmp`` and leaves
    ``path`` as it was. An OSError is one line naming ``path``."""
    target = Path(target)
    make_folder(target, what)
    tmp = partial_path(target)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
    except OSError as exc:
        discard(tmp)
        raise UniskelError(f"{target}: cannot write the {what} "
                           f"({exc.strerror or exc})") from None
    except BaseException:
        discard(tmp)
        raise
    commit(tmp, target, what)


def write_text(target, text: str, what: str = "output") -> Path:
    """``text`` into ``target``, whole or not at all."""
    with replacing(target, what) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(target)
