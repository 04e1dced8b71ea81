"""Atomic file writes (a crash never leaves a half-written file that a later step trusts) and
the workdir lock (two runs never write into one workdir)."""

import fcntl
import os
import tempfile


def atomic_write_bytes(path, data):
  """Writes `data` to `path` through a temporary file in the same folder and a rename."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def atomic_write_text(path, text):
  atomic_write_bytes(path, text.encode("utf-8"))


class WorkdirLock:
  """An exclusive lock on a workdir (`<workdir>/.lock`, `fcntl.flock`) for one training run.

  A second run in the same workdir would overwrite the first's `ckpt-<step>` files and state;
  it fails instead, naming the process that holds the lock. Workers of a multi-worker run each
  lock their own file (`name`), so a second run's workers all fail, each on its counterpart,
  before any collective op (a refused chief alone would leave the others waiting for it). The operating system releases the
  lock when the holder exits, also on SIGKILL, so a crashed run never blocks its own resume.
  """

  def __init__(self, workdir, name=".lock"):
    self.path = os.path.join(workdir, name)
    self._file = None

  def __enter__(self):
    self._file = open(self.path, "a+")
    try:
      fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      self._file.seek(0)
      holder = self._file.read().strip() or "unknown"
      self._file.close()
      self._file = None
      raise RuntimeError(f"another training run (pid {holder}) is using "
                         f"{os.path.dirname(self.path)}; wait for it to finish or choose another "
                         f"--workdir") from None
    self._file.seek(0)
    self._file.truncate()
    self._file.write(str(os.getpid()))
    self._file.flush()
    return self

  def __exit__(self, *exc):
    fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
    self._file.close()
    self._file = None
    return False
