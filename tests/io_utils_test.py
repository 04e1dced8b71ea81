"""Tests of the atomic writers' file modes (the workdir lock is in reliability/resume_test.py)."""

import os
import stat
from unittest import mock

import tensorflow as tf

from tfpose_ssl import io_utils


class AtomicWriteModeTest(tf.test.TestCase):

  def _write_with_umask(self, umask, name):
    """Writes a file under `umask` (restored after); returns its permission bits."""
    path = os.path.join(self.get_temp_dir(), name)
    previous = os.umask(umask)
    try:
      io_utils.atomic_write_text(path, "{}")
    finally:
      os.umask(previous)
    return stat.S_IMODE(os.stat(path).st_mode)

  def test_files_get_the_mode_of_a_plain_open(self):
    # Before: always 0600, the mode of mkstemp's temporary file.
    self.assertEqual(self._write_with_umask(0o022, "shared.json"), 0o644)
    self.assertEqual(self._write_with_umask(0o077, "private.json"), 0o600)
    self.assertEqual(self._write_with_umask(0o002, "group.json"), 0o664)
    # Rewriting an existing file applies the current umask too (not the old file's mode).
    self.assertEqual(self._write_with_umask(0o022, "private.json"), 0o644)
    leftovers = [n for n in os.listdir(self.get_temp_dir()) if n.endswith(".tmp")]
    self.assertEmpty(leftovers)

  def test_current_umask_leaves_it_unchanged(self):
    previous = os.umask(0o027)
    try:
      self.assertEqual(io_utils.current_umask(), 0o027)  # from /proc/self/status
      with mock.patch.object(io_utils, "open", side_effect=OSError, create=True):
        self.assertEqual(io_utils.current_umask(), 0o027)  # the set-and-restore fallback
      self.assertEqual(os.umask(0o027), 0o027)  # left as it was
    finally:
      os.umask(previous)


if __name__ == "__main__":
  tf.test.main()
