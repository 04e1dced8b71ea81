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
import subprocess
import sys
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


def help_text(name, repo_root=REPO_ROOT):
  """What `python -m tfpose_ssl.<name> --help` prints, with the repository's path cut."""
  if repo_root != REPO_ROOT or not hasattr(os, "fork"):
    return subprocess_help_text(name, repo_root)
  for library in LIBRARIES:
    importlib.import_module(library)
  read_end, write_end = os.pipe()
  pid = os.fork()
  if pid == 0:  # the child: the binary as `python -m` runs it, its stdout into the pipe
    os.close(read_end)
    os.dup2(write_end, 1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # TensorFlow's start-up lines
    sys.stdout = open(1, "w", closefd=False)  # not a capture of the parent's (pytest)
    try:
      for flag in flags.FLAGS.get_flags_for_module(sys.argv[0]):  # this tool's own --out
        delattr(flags.FLAGS, flag.name)
      sys.argv = [sys.argv[0], "--help"]
      runpy.run_module(f"tfpose_ssl.{name}", run_name="__main__", alter_sys=True)
    except SystemExit:  # absl's --help exits
      pass
    except BaseException:  # pylint: disable=broad-except  (reported by the parent)
      print(traceback.format_exc())
    finally:
      sys.stdout.flush()
      os._exit(0)  # pylint: disable=protected-access  (no atexit of the parent's)
  os.close(write_end)
  with os.fdopen(read_end, "rb") as pipe:
    output = pipe.read().decode()
  os.waitpid(pid, 0)
  return _checked(name, output, "", repo_root)


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
