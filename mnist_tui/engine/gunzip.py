"""gzip decompression that survives Paddle 2.x's own copy of zlib.

Paddle 2.x's `libpaddle.so` carries zlib 1.2.8 and exports its functions, and it also needs the
system's `libz.so.1`. When Paddle is the first library in the process to need `libz.so.1` (a
script that imports paddle before numpy, say), the dynamic linker binds libz's calls to its own
functions to Paddle's copies instead, so the first inflate mixes two zlib versions and dies with
SIGSEGV in `inflateReset2` (PaddlePaddle/Paddle#70538; Paddle 3 no longer exports zlib). Python's
`zlib` module goes through that libz, so in such a process a file is decompressed by a fresh
interpreter instead, whose libz is loaded before any Paddle.
"""

from __future__ import annotations

import ctypes
import gzip
import subprocess
import sys
from pathlib import Path

_CHILD = "import gzip, sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())"


def gunzip(path: Path) -> bytes:
    """The decompressed bytes of a .gz file (OSError, EOFError or zlib.error when it is broken)."""
    if not libz_bound_to_paddle():
        with gzip.open(path, "rb") as f:
            return f.read()
    done = subprocess.run([sys.executable, "-I", "-c", _CHILD, str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or [f"exit status {done.returncode}"]
        raise OSError(lines[-1])
    return done.stdout


def loaded_libraries() -> list[str]:
    """The shared objects of this process, in the order they were loaded ([] where unknown)."""

    class Info(ctypes.Structure):  # the start of struct dl_phdr_info
        _fields_ = [("addr", ctypes.c_void_p), ("name", ctypes.c_char_p)]

    names: list[str] = []

    def collect(info, _size, _data) -> int:
        names.append((info.contents.name or b"").decode(errors="replace"))
        return 0

    callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(Info), ctypes.c_size_t, ctypes.c_void_p)(collect)
    try:
        ctypes.CDLL(None).dl_iterate_phdr(callback, None)
    except (AttributeError, OSError):  # not glibc
        return []
    return names


def libz_bound_to_paddle() -> bool:
    """Whether the process's libz.so.1 was loaded after, and for, a libpaddle.so that has its own zlib."""
    names = loaded_libraries()
    paddle = next((i for i, n in enumerate(names) if Path(n).name == "libpaddle.so"), None)
    libz = next((i for i, n in enumerate(names) if Path(n).name.startswith("libz.so")), None)
    if paddle is None or libz is None or libz < paddle:
        return False
    try:
        own, system = ctypes.CDLL(names[paddle]), ctypes.CDLL(names[libz])
        return ctypes.cast(own.inflateReset2, ctypes.c_void_p).value != ctypes.cast(
            system.inflateReset2, ctypes.c_void_p).value
    except (AttributeError, OSError):  # no such function there
        return False
