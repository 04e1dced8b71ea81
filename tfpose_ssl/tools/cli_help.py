r"""Writes docs/cli.md: the `--help` output of every command-line binary, as the code prints it.

  python -m tfpose_ssl.tools.cli_help                 # rewrites docs/cli.md
  bazel run //tfpose_ssl/tools:cli_help -- --out=$PWD/docs/cli.md

Each binary runs as `python -m tfpose_ssl.<name> --help` in its own process (the interpreter
running this tool, from the repository root), with a fixed help width of 80 columns; the
absolute path of the repository in absl's flag listing is cut, so the file does not depend on
the machine. tests/docs_test.py regenerates the text and fails when docs/cli.md differs.
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import os
import subprocess
import sys

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


def help_text(name, repo_root=REPO_ROOT):
  """What `python -m tfpose_ssl.<name> --help` prints, with the repository's path cut."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", COLUMNS="80",
             PYTHONPATH=repo_root + os.pathsep + os.environ.get("PYTHONPATH", ""))
  result = subprocess.run([sys.executable, "-m", f"tfpose_ssl.{name}", "--help"],
                          capture_output=True, text=True, timeout=300, cwd=repo_root, env=env,
                          check=False)
  if "Try --helpfull" not in result.stdout:  # absl's --help ends so (and exits with 1)
    raise RuntimeError(f"tfpose_ssl.{name} --help failed (exit {result.returncode}):\n"
                       f"{result.stdout}\n{result.stderr}")
  text = result.stdout
  for root in {repo_root, os.path.realpath(repo_root)}:
    text = text.replace(root.rstrip(os.sep) + os.sep, "")
  return text.rstrip() + "\n"


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
