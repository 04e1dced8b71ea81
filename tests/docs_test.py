"""docs/cli.md is the `--help` output of every binary as the code prints it today."""

import os

import tensorflow as tf

from tests import testing
from tfpose_ssl.tools import cli_help


class CliHelpDocTest(tf.test.TestCase):

  def test_docs_cli_md_matches_the_binaries_help(self):
    path = os.path.join(testing.REPO_ROOT, "docs", "cli.md")
    with open(path) as f:
      committed = f.read()
    self.assertEqual(committed, cli_help.render(testing.REPO_ROOT),
                     f"docs/cli.md differs from the binaries' --help; regenerate it with "
                     f"`{cli_help.REGENERATE}` from the repository root and commit it")

  def test_the_forked_help_is_the_commands_own(self):
    # docs/cli.md is rendered in children forked from this process; the command in a process
    # of its own (`python -m tfpose_ssl.predict --help`) prints the same, the path cut.
    text = cli_help.subprocess_help_text("predict", testing.REPO_ROOT)
    self.assertEqual(cli_help.help_text("predict", testing.REPO_ROOT), text)
    self.assertIn("tfpose_ssl/predict.py:", text)
    self.assertNotIn(testing.REPO_ROOT, text)


if __name__ == "__main__":
  tf.test.main()
