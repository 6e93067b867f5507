"""One `hmtl run` per run folder at a time, on one machine or across a cluster.

Two guards on `.lock` in the folder:
- an flock, which the kernel drops when the process dies (even by SIGKILL), so a crash never
  blocks the next run on the same host;
- the lock file's content, `host pid started`, kept fresh by a heartbeat (its mtime is touched
  every HEARTBEAT seconds). A cluster filesystem may not carry flocks between hosts, so a
  process that gets the flock still refuses the folder while the file names another host whose
  heartbeat is younger than `stale_after` seconds. On the same host the flock alone decides: if
  we got it, the process the file names is gone.

An empty lock file means free: a run that ends cleanly empties it."""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import time
from pathlib import Path

from ..errors import HmtlError

HEARTBEAT = 30.0
STALE_AFTER = 120.0


class RunLock:
    def __init__(self, folder: str | Path, host: str | None = None, use_flock: bool = True,
                 stale_after: float | None = None, heartbeat: float = HEARTBEAT):
        self.folder = Path(folder)
        self.path = self.folder / ".lock"
        self.host = host or socket.gethostname()
        self.use_flock = use_flock           # False: as on a filesystem that does not share them
        self.stale_after = float(os.environ.get("HMTL_LOCK_STALE", STALE_AFTER)) \
            if stale_after is None else stale_after
        self.heartbeat = heartbeat
        self.fd: int | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> "RunLock":
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if self.use_flock:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise self._busy(self._holder(fd), "") from None
            holder = self._holder(fd)
            if holder and holder[0] and holder[0] != self.host:
                age = time.time() - os.fstat(fd).st_mtime
                if age < self.stale_after:
                    raise self._busy(holder, f", alive {age:.0f} s ago")
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{self.host} {os.getpid()} {time.time():.0f}\n".encode(), 0)
        self.fd = fd
        self._stop.clear()
        self._beat = threading.Thread(target=self._keep_fresh, daemon=True, name="hmtl-lock")
        self._beat.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is None:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        os.ftruncate(self.fd, 0)                                  # free
        if self.use_flock:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def _keep_fresh(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                os.utime(self.path)
            except OSError:
                pass                      # the folder was removed under us: nothing to guard

    @staticmethod
    def _holder(fd: int) -> tuple[str, str] | None:
        """(host, pid) the lock file names, or None when it is free."""
        fields = os.pread(fd, 256, 0).decode(errors="replace").split()
        if len(fields) >= 2:
            return fields[0], fields[1]
        if len(fields) == 1:                                     # hmtl before 0.2 wrote a pid
            return "", fields[0]
        return None

    def _busy(self, holder: tuple[str, str] | None, age: str) -> HmtlError:
        host, pid = holder or ("", "?")
        where = f"pid {pid}" + (f" on {host}" if host and host != self.host else "")
        return HmtlError(f"{self.folder}: in use by another hmtl process ({where}{age}); wait "
                         f"for it to finish or use another --out")
