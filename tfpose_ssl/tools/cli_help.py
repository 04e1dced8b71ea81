r"""Writes docs/cli.md: the `--help` output of every command-line binary, as the code prints it.

  python -m tfpose_ssl.tools.cli_help                 # rewrites docs/cli.md
  bazel run //tfpose_ssl/tools:cli_help -- --out=$PWD/docs/cli.md

Each binary runs as `python -m tfpose_ssl.<name> --help` does, with a help width of 80
columns: in a child forked from this process after it imported TensorFlow and the libraries
once (`runpy` runs the binary as `__main__`, as `python -m` does, with the same `sys.argv[0]`),
or, where there is no fork or for another checkout, as that command in a process of its own
(`subprocess_help_text`; tests/docs_test.py checks the two print the same). The absolute path
of the repository in absl's flag listing is cut, so the file does not depend on the machine.
tests/docs_test.py regenerates the text and fails when docs/cli.md differs.
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import importlib
import os
import runpy
import select
import signal
import subprocess
import sys
import time
import traceback

from absl import app
from absl import flags

from tfpose_ssl import io_utils

# The binaries, as `python -m tfpose_ssl.<name>`, with their Bazel target.
BINARIES = (
    ("train", "//tfpose_ssl:train"),
    ("eval", "//tfpose_ssl:eval"),
    ("export", "//tfpose_ssl:export"),
    ("predict", "//tfpose_ssl:predict"),
    ("demo", "//tfpose_ssl:demo"),
    ("data.synthetic", "//tfpose_ssl/data:generate_synthetic"),
)
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGENERATE = "python -m tfpose_ssl.tools.cli_help"


# Imported once before the binaries are forked (what they import; not the binaries themselves,
# which run as `__main__` in each child).
LIBRARIES = ("tensorflow", "tfpose_ssl.api", "tfpose_ssl.training", "tfpose_ssl.tools.make_synthetic")


def help_text(name, repo_root=REPO_ROOT, timeout=300):
  """What `python -m tfpose_ssl.<name> --help` prints, with the repository's path cut."""
  if os.path.realpath(repo_root) != os.path.realpath(REPO_ROOT) or not hasattr(os, "fork"):
    return subprocess_help_text(name, repo_root)
  for library in LIBRARIES:
    importlib.import_module(library)
  out_read, out_write = os.pipe()
  err_read, err_write = os.pipe()
  pid = os.fork()
  if pid == 0:  # the child: the binary as `python -m` runs it, stdout and stderr into the pipes
    os.close(out_read)
    os.close(err_read)
    os.dup2(out_write, 1)
    os.dup2(err_write, 2)
    sys.stdout = open(1, "w", closefd=False)  # not a capture of the parent's (pytest)
    sys.stderr = open(2, "w", closefd=False)
    try:
      for flag in flags.FLAGS.get_flags_for_module(sys.argv[0]):  # this tool's own --out
        delattr(flags.FLAGS, flag.name)
      sys.argv = [sys.argv[0], "--help"]
      runpy.run_module(f"tfpose_ssl.{name}", run_name="__main__", alter_sys=True)
    except SystemExit:  # absl's --help exits
      pass
    except BaseException:  # pylint: disable=broad-except  (reported by the parent)
      traceback.print_exc()
    finally:
      sys.stdout.flush()
      sys.stderr.flush()
      os._exit(0)  # pylint: disable=protected-access  (no atexit of the parent's)
  os.close(out_write)
  os.close(err_write)
  try:
    output, errors = _read_until_closed(out_read, err_read, timeout)
  finally:
    if os.waitpid(pid, os.WNOHANG) == (0, 0):  # still running: timed out or interrupted
      os.kill(pid, signal.SIGKILL)
      os.waitpid(pid, 0)
  return _checked(name, output, errors[-3000:], repo_root)


def _read_until_closed(out_fd, err_fd, timeout):
  """(stdout, stderr) text of a child, read until it closes both pipes; raises after `timeout`
  seconds (a child that hangs, e.g. on a lock a thread of the parent held at the fork)."""
  chunks = {out_fd: [], err_fd: []}
  deadline = time.monotonic() + timeout
  open_fds = [out_fd, err_fd]
  try:
    while open_fds:
      remaining = deadline - time.monotonic()
      if remaining <= 0:
        raise TimeoutError(f"a --help child printed nothing more for {timeout} s")
      ready, _, _ = select.select(open_fds, [], [], remaining)
      for fd in ready:
        data = os.read(fd, 65536)
        if data:
          chunks[fd].append(data)
        else:
          open_fds.remove(fd)
  finally:
    os.close(out_fd)
    os.close(err_fd)
  return tuple(b"".join(chunks[fd]).decode(errors="replace") for fd in (out_fd, err_fd))


def subprocess_help_text(name, repo_root=REPO_ROOT):
  """`help_text` from the command itself, run in its own process from `repo_root`."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", COLUMNS="80",
             PYTHONPATH=repo_root + os.pathsep + os.environ.get("PYTHONPATH", ""))
  result = subprocess.run([sys.executable, "-m", f"tfpose_ssl.{name}", "--help"],
                          capture_output=True, text=True, timeout=300, cwd=repo_root, env=env,
                          check=False)
  return _checked(name, result.stdout, result.stderr, repo_root)


def _checked(name, output, errors, repo_root):
  """The help text `output` with the repository's path cut; raises unless it is a help text."""
  if "Try --helpfull" not in output:  # absl's --help ends so (and exits with 1)
    raise RuntimeError(f"tfpose_ssl.{name} --help failed:\n{output}\n{errors}")
  for root in {repo_root, os.path.realpath(repo_root)}:
    output = output.replace(root.rstrip(os.sep) + os.sep, "")
  return output.rstrip() + "\n"


def render(repo_root=REPO_ROOT):
  """The text of docs/cli.md."""
  lines = ["# Command-line help", "",
           "The `--help` output of each binary, generated from the code by "
           f"`{REGENERATE}` (tests/docs_test.py fails when this file differs from it). "
           "Every binary also has `--helpfull` (absl's flags too). Under Bazel: "
           "`bazel run <target> -- --help`.", ""]
  for name, target in BINARIES:
    lines += [f"## {name}", "",
              f"`python -m tfpose_ssl.{name} --help` (Bazel target `{target}`):", "",
              "```", help_text(name, repo_root).rstrip("\n"), "```", ""]
  return "\n".join(lines)


def main(argv):
  del argv
  out = io_utils.resolve_path(flags.FLAGS.out or os.path.join(REPO_ROOT, "docs", "cli.md"))
  text = render()
  os.makedirs(os.path.dirname(out), exist_ok=True)
  io_utils.atomic_write_text(out, text)
  print(out)


if __name__ == "__main__":
  flags.DEFINE_string("out", None, "Output file (default: docs/cli.md of the repository).")
  app.run(main)
