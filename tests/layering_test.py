"""Imports run one way: no module of tfpose_ssl imports one of a higher layer.

The layers are the README's Layout section. A new module must be given a layer here (the test
names it), so the map stays complete.
"""

import ast
import os

import tensorflow as tf

from tests import testing

# Layer of each module (dotted names under tfpose_ssl; a package name covers its modules).
# 0 process and files, 1 the paper's math and image ops (ops/), 2 data and networks, 3 trainers,
# evaluation and serving built on them, 4 the edges: config, binaries, benchmarks, tools.
LAYERS = {
    "runtime": 0, "io_utils": 0,
    "ops": 1,
    "data": 2, "models": 2,
    "trainers": 3, "evaluation": 3, "serving": 3, "task": 3,
    "api": 4, "config": 4, "configurables": 4, "training": 4, "train": 4, "eval": 4, "export": 4,
    "predict": 4, "demo": 4, "benchmarks": 4, "tools": 4,
}
PACKAGE = os.path.join(testing.REPO_ROOT, "tfpose_ssl")


def layer_of(module):
  """Layer of `module` ("data.coco", "train"): its own entry or its package's; None if absent."""
  parts = module.split(".")
  for i in range(len(parts), 0, -1):
    if ".".join(parts[:i]) in LAYERS:
      return LAYERS[".".join(parts[:i])]
  return None


def imports_of(path):
  """Modules of tfpose_ssl that the file at `path` imports (dotted, without "tfpose_ssl.")."""
  with open(path) as f:
    tree = ast.parse(f.read())
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tfpose_ssl"):
      base = node.module[len("tfpose_ssl"):].lstrip(".")
      found.update(f"{base}.{a.name}".lstrip(".") for a in node.names)
    elif isinstance(node, ast.Import):
      found.update(a.name[len("tfpose_ssl."):] for a in node.names
                   if a.name.startswith("tfpose_ssl."))
  return found


def modules():
  """{dotted module name: path} of every Python file of the package (package __init__ left out)."""
  found = {}
  for folder, dirs, files in os.walk(PACKAGE):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    for name in files:
      if name.endswith(".py") and name != "__init__.py":
        relative = os.path.relpath(os.path.join(folder, name), PACKAGE)[:-3]
        found[relative.replace(os.sep, ".")] = os.path.join(folder, name)
  return found


class LayeringTest(tf.test.TestCase):

  def test_every_module_has_a_layer(self):
    missing = sorted(m for m in modules() if layer_of(m) is None)
    self.assertEqual(missing, [], "give these modules a layer in tests/layering_test.py and "
                                  "the README's Layout section")

  def test_no_module_imports_a_higher_layer(self):
    upward = []
    for module, path in sorted(modules().items()):
      for imported in sorted(imports_of(path)):
        if layer_of(imported) is not None and layer_of(imported) > layer_of(module):
          upward.append(f"{module} (layer {layer_of(module)}) imports {imported} "
                        f"(layer {layer_of(imported)})")
    self.assertEqual(upward, [])

  def test_the_check_sees_an_upward_import(self):
    # The checker itself: a layer-1 file importing a trainer is reported.
    path = os.path.join(self.get_temp_dir(), "geometry.py")
    with open(path, "w") as f:
      f.write("from tfpose_ssl.trainers import dual_student\nimport tfpose_ssl.data.coco\n")
    self.assertEqual(imports_of(path), {"trainers.dual_student", "data.coco"})
    self.assertEqual((layer_of("ops.geometry"), layer_of("trainers.dual_student"),
                      layer_of("data.coco"), layer_of("nonexistent")), (1, 3, 2, None))


if __name__ == "__main__":
  tf.test.main()
