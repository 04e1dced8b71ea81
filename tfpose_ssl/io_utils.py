"""Files and folders: atomic writes (a crash never leaves a half-written file that a later step
trusts), the workdir lock (two runs never write into one workdir), paths as the user typed them
(`resolve_path`) and finding checkpoints (`latest_checkpoint`, `checkpoint_prefixes`)."""

import fcntl
import os
import re
import tempfile

import tensorflow as tf


def current_umask():
  """The process's umask, read without changing it.

  `os.umask` can only be read by setting it, and it is process-global: between setting and
  restoring it, a file another thread creates (tf.data, checkpoint writers, TensorBoard) would
  get the wrong mode, world-writable with a umask of 0. Linux reports the umask in
  `/proc/self/status` (since 4.7), which is read-only and thread-safe; the set-and-restore
  fallback is only for systems without it, and sets the common 022 (never 0) for its moment.
  """
  try:
    with open("/proc/self/status") as f:
      for line in f:
        if line.startswith("Umask:"):
          return int(line.split()[1], 8)
  except (OSError, ValueError, IndexError):
    pass
  mask = os.umask(0o022)
  os.umask(mask)
  return mask


def atomic_write_bytes(path, data):
  """Writes `data` to `path` through a temporary file in the same folder and a rename.

  The file gets the mode a plain `open(path, "w")` would create it with (0o666 less the
  umask): `mkstemp` makes its temporary file 0600 so that no one can read it half-written,
  and the rename would otherwise hand that private mode to every output (summaries, metrics,
  results, images), which others in the user's group could then not read.
  """
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
      f.flush()
      try:
        os.fchmod(f.fileno(), 0o666 & ~current_umask())
      except OSError:  # a filesystem without modes (FAT, some network mounts): keep its default
        pass
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def atomic_write_text(path, text):
  atomic_write_bytes(path, text.encode("utf-8"))


def fsync_dir(folder):
  """Flushes a folder's entries (renames into it) to disk, so they survive a power loss as
  the files' contents do; a no-op where folders cannot be opened (not POSIX)."""
  try:
    fd = os.open(folder, os.O_RDONLY)
  except OSError:
    return
  try:
    os.fsync(fd)
  except OSError:
    pass
  finally:
    os.close(fd)


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


def resolve_path(path):
  """Resolves a relative path against the directory the user ran the command from.

  Under `bazel run` that directory is `BUILD_WORKING_DIRECTORY`; otherwise the current one.
  """
  if path is None:
    return None
  path = os.path.expanduser(str(path))
  if os.path.isabs(path):
    return path
  base = os.environ.get("BUILD_WORKING_DIRECTORY", os.getcwd())
  return os.path.normpath(os.path.join(base, path))


def latest_checkpoint(path):
  """The checkpoint prefix for a workdir, a checkpoint folder or a prefix."""
  if os.path.isdir(path):
    for folder in (os.path.join(path, "checkpoints"), path):
      found = tf.train.latest_checkpoint(folder)
      if found:
        return found
    raise FileNotFoundError(f"no checkpoint under {path}")
  if tf.io.gfile.glob(path + ".index"):
    return path
  raise FileNotFoundError(f"checkpoint not found: {path}")


def checkpoint_prefixes(folder):
  """`<folder>/ckpt-<step>` prefixes that have an index file, highest step first."""
  found = []
  for index in tf.io.gfile.glob(os.path.join(folder, "ckpt-*.index")):
    match = re.fullmatch(r"ckpt-(\d+)\.index", os.path.basename(index))
    if match:
      found.append((int(match.group(1)), index[:-len(".index")]))
  return [prefix for _, prefix in sorted(found, reverse=True)]
