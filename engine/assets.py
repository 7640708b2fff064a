"""Where shipped files live, the same way from a source checkout, an install and a frozen build."""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path


def root() -> Path:
    """The folder that holds ``assets/``: the PyInstaller bundle, or the project checkout."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen)
    return Path(__file__).resolve().parent.parent


def asset(*parts: str) -> Path:
    return root().joinpath("assets", *parts)


DEFAULT_MODEL = "models/uniskel_student.pt"
DEFAULT_ONNX = "models/uniskel_student.onnx"
DEFAULT_DETECTOR = "models/nanodet_person.onnx"


def default_model() -> Path:
    return asset(DEFAULT_MODEL)


def default_onnx() -> Path:
    return asset(DEFAULT_ONNX)


def default_detector() -> Path:
    return asset(DEFAULT_DETECTOR)


#: ``sha256sum``-format list of the bundled models, beside them; written by
#: ``uniskel export`` when it writes into ``assets/models/``, checked on every default load.
CHECKSUMS = "models/SHA256SUMS"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def listed_checksums(folder: Path) -> dict[str, str]:
    """{file name: sha256} from ``folder/SHA256SUMS``; {} if there is none."""
    sums = folder / Path(CHECKSUMS).name
    if not sums.is_file():
        return {}
    out = {}
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.strip().partition("  ")
        if digest and name:
            out[name.lstrip("*")] = digest.lower()
    return out


def bundled_problem(path: Path) -> str | None:
    """None if ``path`` is the bundled model its folder's SHA256SUMS lists, else why not."""
    want = listed_checksums(path.parent).get(path.name)
    if want is None:
        return (f"{path.name} is not listed in {Path(CHECKSUMS).name} beside it; export the "
                f"model there with `uniskel export`, which records its checksum")
    if sha256(path) != want:
        return (f"{path.name} does not match its SHA-256 in {Path(CHECKSUMS).name} "
                f"(corrupted or replaced); reinstall uniskel or export the model again")
    return None


def record_checksum(path: Path) -> None:
    """Put ``path``'s SHA-256 into its folder's SHA256SUMS (other lines kept)."""
    path = Path(path)
    sums = listed_checksums(path.parent)
    sums[path.name] = sha256(path)
    text = "".join(f"{d}  {n}\n" for n, d in sorted(sums.items()))
    target = path.parent / Path(CHECKSUMS).name
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


def is_bundled_folder(folder: Path) -> bool:
    try:
        return Path(folder).resolve() == asset("models").resolve()
    except OSError:
        return False


def shared_data() -> Path:
    """The real datasets beside the project (``../shared/data``), used as a default path."""
    return root().parent / "shared" / "data"
