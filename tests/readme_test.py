"""The commands of the README and docs/ exist: every binary, flag and gin name they use.

A command is `python -m tfpose_ssl.<module> ...` or `bazel run //<package>:<target> -- ...`,
in a code block (with its continuation lines) or an inline code span. Its `--flags` must be
flags that binary defines (read from its code), and the `configurable.parameter` names of its
`--gin_bindings` must be registered with gin (macros, in capitals, must be defined in configs/).
"""

import ast
import glob
import inspect
import os
import re

import gin
import tensorflow as tf

from tests import testing
from tfpose_ssl import configurables  # pylint: disable=unused-import  (gin's names)

COMMAND = re.compile(r"python -m (tfpose_ssl[\w.]*)|bazel run (//[\w/]*(?::\w+)?)")
FLAG = re.compile(r"(?<![\w-])--(\w+)")
BINDING = re.compile(r"--gin_bindings=[\"']?([\w/.]+)\s*=")
# Flags absl adds to every binary.
ABSL_FLAGS = {"help", "helpfull", "helpshort", "helpxml"}


def documents():
  """The README and the docs/ pages, as {relative path: text}."""
  paths = [os.path.join(testing.REPO_ROOT, "README.md")]
  paths += sorted(glob.glob(os.path.join(testing.REPO_ROOT, "docs", "**", "*.md"),
                            recursive=True))
  found = {}
  for path in paths:
    with open(path) as f:
      found[os.path.relpath(path, testing.REPO_ROOT)] = f.read()
  return found


def command_segments(text):
  """The text of each code block line (continuations joined) and each inline code span."""
  segments = []
  fence = r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```"  # also indented (in list items)
  for block in re.findall(fence, text, re.S | re.M):
    segments += block.replace("\\\n", " ").splitlines()
  prose = re.sub(fence, "", text, flags=re.S | re.M)
  segments += re.findall(r"`([^`]+)`", prose.replace("\n", " "))
  return segments


def bazel_module(label):
  """`//tfpose_ssl:train` -> 'tfpose_ssl.train' (the py_binary's main file), through aliases."""
  package, _, name = label[2:].partition(":")
  name = name or os.path.basename(package)
  with open(os.path.join(testing.REPO_ROOT, package, "BUILD")) as f:
    build = f.read()
  rule = re.search(r'\n(\w+)\(\n    name = "%s",(.*?)\n\)' % name, build, re.S)
  if rule is None:
    raise AssertionError(f"{label}: no target {name!r} in {package}/BUILD")
  actual = re.search(r'actual = "([^"]+)"', rule.group(2))
  if rule.group(1) == "alias" and actual:
    return bazel_module(actual.group(1))
  main = re.search(r'main = "([^"]+)\.py"', rule.group(2))
  if rule.group(1) != "py_binary" or main is None:
    raise AssertionError(f"{label} is not a py_binary")
  return (package + "/" + main.group(1)).replace("/", ".")


def commands():
  """{module: {'flags': set, 'bindings': set, 'where': set}} of every documented command."""
  found = {}
  for document, text in documents().items():
    for segment in command_segments(text):
      matches = list(COMMAND.finditer(segment))
      for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(segment)
        args = segment[match.end():end]
        module = match.group(1) or bazel_module(match.group(2))
        entry = found.setdefault(module, {"flags": set(), "bindings": set(), "where": set()})
        entry["where"].add(document)
        entry["flags"].update(FLAG.findall(args))
        entry["bindings"].update(BINDING.findall(args))
  return found


def all_bindings():
  """Every `--gin_bindings=name = ...` name in the documents, with or without a command."""
  return {name for text in documents().values() for segment in command_segments(text)
          for name in BINDING.findall(segment)}


def module_file(module):
  """The source file `python -m module` runs (a package runs its __main__.py)."""
  path = os.path.join(testing.REPO_ROOT, *module.split("."))
  return os.path.join(path, "__main__.py") if os.path.isdir(path) else path + ".py"


def defined_flags(module):
  """Every flag the binary `module` defines, read from its source: the names of its
  `flags.DEFINE_*` calls and of those in the `define_flags` functions of the tfpose_ssl modules
  it calls (e.g. `config_lib.define_flags()`); bool flags also as no<name>. Reading the code
  instead of running `--helpfull` keeps this test fast; tests/docs_test.py runs the binaries'
  `--help`."""
  with open(module_file(module)) as f:
    tree = ast.parse(f.read())
  aliases = {}
  for node in ast.walk(tree):
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tfpose_ssl"):
      for alias in node.names:
        aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
  names = set()
  for node in ast.walk(tree):
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
      continue
    attr = node.func.attr
    if attr.startswith("DEFINE_") and node.args and isinstance(node.args[0], ast.Constant):
      names.add(node.args[0].value)
      if attr in ("DEFINE_bool", "DEFINE_boolean"):
        names.add("no" + node.args[0].value)
    elif (attr.endswith("define_flags") and isinstance(node.func.value, ast.Name)
          and node.func.value.id in aliases):
      names |= defined_flags(aliases[node.func.value.id])
  return names


def macros_defined():
  names = set()
  for path in glob.glob(os.path.join(testing.REPO_ROOT, "configs", "**", "*.gin"),
                        recursive=True):
    with open(path) as f:
      names |= set(re.findall(r"^([A-Z][A-Z0-9_]*)\s*=", f.read(), re.M))
  return names


def binding_error(name, macros):
  """None if `name` (`scope/configurable.param` or a MACRO) resolves, else why not."""
  if "." not in name:
    return None if name in macros else f"macro {name} is not defined in configs/"
  selector, param = name.rsplit(".", 1)
  configurable = gin.config._REGISTRY.get_match(selector.split("/")[-1])  # pylint: disable=protected-access
  if configurable is None:
    return f"{selector} is not a gin configurable"
  target = configurable.wrapped
  signature = inspect.signature(target.__init__ if inspect.isclass(target) else target)
  if param not in signature.parameters:
    return f"{selector} has no parameter {param}"
  return None


class ReadmeCommandsTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.commands = commands()

  def test_the_documents_show_the_main_binaries(self):
    self.assertContainsSubset({"tfpose_ssl.train", "tfpose_ssl.eval", "tfpose_ssl.export",
                               "tfpose_ssl.predict", "tfpose_ssl.demo"}, self.commands)

  def test_every_module_and_flag_exists(self):
    for module, entry in sorted(self.commands.items()):
      with self.subTest(module=module):
        self.assertTrue(os.path.isfile(module_file(module)),
                        f"{module} (in {entry['where']}) does not exist")
        unknown = entry["flags"] - defined_flags(module) - ABSL_FLAGS
        self.assertEqual(unknown, set(), f"{module}: flags in {sorted(entry['where'])} that "
                                         "it does not define")

  def test_every_gin_binding_resolves(self):
    macros = macros_defined()
    names = all_bindings()
    self.assertContainsSubset({"train.epochs", "set_thread_pools.intra_op"}, names)
    errors = sorted(f"{name}: {binding_error(name, macros)}" for name in names
                    if binding_error(name, macros))
    self.assertEqual(errors, [])

  def test_the_check_sees_a_wrong_flag_and_binding(self):
    # The checker itself, on a made-up document.
    segment = ("python -m tfpose_ssl.train --config=configs/smoke.gin --wrokdir=x "
               "--gin_bindings=\"train.epochs=2\" --gin_bindings=\"train.epoch=2\"")
    match = COMMAND.search(segment)
    self.assertEqual(match.group(1), "tfpose_ssl.train")
    self.assertEqual(set(FLAG.findall(segment[match.end():])),
                     {"config", "wrokdir", "gin_bindings"})
    self.assertContainsSubset({"config", "gin_bindings", "workdir"},
                              defined_flags("tfpose_ssl.train"))
    self.assertContainsSubset({"flip", "noflip", "checkpoint"}, defined_flags("tfpose_ssl.eval"))
    self.assertNotIn("wrokdir", defined_flags("tfpose_ssl.train"))
    macros = macros_defined()
    self.assertIsNone(binding_error("train.epochs", macros))
    self.assertIn("no parameter epoch", binding_error("train.epoch", macros))
    self.assertIn("not a gin configurable", binding_error("trian.epochs", macros))
    self.assertIsNone(binding_error("COCO_ROOT", macros))
    self.assertEqual(bazel_module("//export"), "tfpose_ssl.export")


if __name__ == "__main__":
  tf.test.main()
