"""gin configuration for the binaries: --config/--gin_bindings parsing and path resolution."""

import inspect
import os
import re

from absl import flags
import gin

from tfpose_ssl import io_utils

# The folder holding configs/ (the repository, or the Bazel runfiles tree).
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAVED_CONFIG = "config.gin"

# `train` parameters that pace or watch a run without changing what it computes: a resumed run
# may change them (the final evaluation's subset included; its size is recorded in summary.json).
# `init_checkpoint` is only read when a workdir holds no checkpoint, so never on a resume.
RUN_CONTROL = ("verbose", "max_steps_per_run", "stop_at_step", "summary_every_steps",
               "eval_every_epochs", "image_every_epochs", "num_visualized",
               "checkpoint_every_steps", "keep_checkpoints", "strategy", "max_val_instances",
               "allow_config_change", "init_checkpoint")
# Configurables whose every parameter is run control too: how the run executes, not what it
# trains.
RUN_CONTROL_CONFIGURABLES = ("set_thread_pools",)


class ConfigMismatchError(ValueError):
  """A workdir's checkpoints were trained under another config than the one given now."""


def define_flags():
  flags.DEFINE_multi_string("config", [], "gin config file(s), e.g. configs/synthetic.gin.")
  flags.DEFINE_multi_string("gin_bindings", [], "Extra gin bindings, e.g. \"train.epochs=5\".")


def resolve_config(path):
  """A config path as given (relative to where the user ran the command) or in the repo."""
  for candidate in (io_utils.resolve_path(path), os.path.join(REPO_ROOT, path)):
    if os.path.isfile(candidate):
      return candidate
  raise FileNotFoundError(f"gin config not found: {path} (looked in "
                          f"{io_utils.resolve_path(path)} and {os.path.join(REPO_ROOT, path)})")


def parse(configs, bindings=(), workdir=None):
  """Parses gin files and bindings; with no files, falls back to `<workdir>/config.gin`.

  The names they use must be registered first: import `tfpose_ssl.configurables`.

  Mistakes fail here, before anything runs, with an error naming them: a misspelled
  configurable or parameter (gin's own check), a macro used but never defined, and a macro
  defined but never used (a misspelled definition, e.g. `KK = 3` for `K = 3`, would otherwise
  leave `K` at its old value). A config read from a checkpoint folder may come from someone
  else: its `import` and `include` lines (which run code or read other files) are refused.
  """
  files = [resolve_config(c) for c in configs]
  saved = None
  if not files and workdir:
    saved = os.path.join(workdir if os.path.isdir(workdir) else os.path.dirname(workdir),
                         SAVED_CONFIG)
    if not os.path.isfile(saved):
      raise FileNotFoundError(f"no --config given and no {SAVED_CONFIG} in {workdir}")
    refuse_statements(saved)
    files = [saved]
  if not files:
    raise ValueError("no gin config given (--config=configs/<name>.gin)")
  gin.add_config_file_search_path(REPO_ROOT)
  try:
    gin.parse_config_files_and_bindings(files, bindings)
  except ValueError as e:  # gin's message for this prints the whole config
    match = re.match(r"No bindings specified for '([^']+)/gin\.macro'", str(e))
    if not match:
      raise
    raise ValueError(f"macro %{match.group(1)} is used but never defined (no line "
                     f"`{match.group(1)} = ...` in {files} or the bindings)") from None
  if not saved and not any(is_saved_config(f) for f in files):
    check_macros_used(files)  # a saved config lists every macro of its run (older: K_PLUS_1)
  return files


def is_saved_config(path):
  """True for a file `gin.config_str()` wrote (a workdir's config.gin, also when passed with
  --config): it starts with gin's "# Macros:" or "# Parameters for" header."""
  with open(path) as f:
    for line in f:
      if line.strip():
        return line.startswith(("# Macros:", "# Parameters for"))
  return False


def refuse_statements(path):
  """Raises if the gin file `path` has `import` or `include` lines."""
  with open(path) as f:
    lines = [line.strip() for line in f]
  found = [line for line in lines if re.match(r"(import|from|include)\s", line)]
  if found:
    raise ValueError(
        f"{path} has {found}: a config read from a checkpoint folder may not import modules "
        f"or include other files (checkpoints and models must come from a trusted source). "
        f"Pass the config explicitly with --config if you trust it.")


def _references(value):
  """The `gin.config.ConfigurableReference`s in a bound value (nested in lists, dicts, ...)."""
  if isinstance(value, gin.config.ConfigurableReference):
    yield value
  elif isinstance(value, (list, tuple, set)):
    for item in value:
      yield from _references(item)
  elif isinstance(value, dict):
    for item in value.values():
      yield from _references(item)


def references():
  """Every `gin.config.ConfigurableReference` the parsed config binds (`@name`, `@scope/name()`,
  `%MACRO`), in bindings and macros alike."""
  config = gin.config._CONFIG  # pylint: disable=protected-access  (gin 0.5 has no API)
  for values in config.values():
    for value in values.values():
      yield from _references(value)


def check_macros_used(files):
  """Raises if a macro of the parsed config is defined but no binding or macro uses it."""
  config = gin.config._CONFIG  # pylint: disable=protected-access  (gin 0.5 has no API)
  defined = {scope for scope, selector in config if selector == "gin.macro"}
  used = set()
  for reference in references():
    name, _, selector = reference.scoped_selector.rpartition("/")
    if selector == "gin.macro":
      used.add(name)
  unused = sorted(defined - used)
  if unused:
    raise ValueError(f"macro(s) {unused} defined in {files} or the bindings but never used "
                     f"(misspelled? a binding uses a macro as %NAME)")



_BINDING = re.compile(r"^([A-Za-z_][\w./]*)\s*=\s*(.*)$")


def parse_bindings(config_text):
  """`gin.config_str()` text -> {binding or macro name: value text (whitespace normalized)}.

  A line that starts with `name =` at column 0 starts a binding; indented lines and lines after
  a trailing backslash continue it (gin prints long values over several lines).
  """
  bindings, key = {}, None
  for line in config_text.splitlines():
    if not line.strip() or line.lstrip().startswith("#"):
      continue
    match = _BINDING.match(line)
    if match and not line[0].isspace():
      key = match.group(1)
      bindings[key] = match.group(2)
    elif key is not None:
      bindings[key] += " " + line.strip()
  return {k: " ".join(v.replace("\\", " ").split()) for k, v in bindings.items()}


def default_text(key):
  """The default value of the parameter `key` ('[scope/]Configurable.param') as gin prints it,
  or None when it has none or is not a registered configurable's (e.g. a macro)."""
  name, _, param = key.rpartition(".")
  if not name:
    return None
  registry = gin.config._REGISTRY  # pylint: disable=protected-access  (gin 0.5 has no API)
  try:
    configurable = registry.get_match(name.split("/")[-1])
    parameter = inspect.signature(configurable.wrapped).parameters[param]
  except (KeyError, ValueError, TypeError, AttributeError):
    return None
  if parameter.default is inspect.Parameter.empty:
    return None
  return " ".join(repr(parameter.default).split())


def resolve_macros(bindings):
  """{binding: value text} with every `%MACRO` replaced by the macro's value text, macros left
  out: `num_strong = %K` with `K = 0` reads as `num_strong = 0`."""
  macros = {k: v for k, v in bindings.items() if "." not in k}
  resolved = {}
  for key, value in bindings.items():
    if key in macros:
      continue
    for _ in range(len(macros) + 1):  # macros may refer to macros
      value, count = re.subn(r"%(\w+)", lambda m: macros.get(m.group(1), m.group(0)), value)
      if not count or "%" not in value:
        break
    resolved[key] = value
  return resolved


def config_changes(saved_text, current_text, ignore=RUN_CONTROL):
  """[(binding, saved value, current value)] of bindings whose values differ, leaving out
  `train.<p>` for p in `ignore` and the parameters of `RUN_CONTROL_CONFIGURABLES`. Values are compared with their macros resolved, so moving a
  value into or out of a macro is no change; an unbound parameter counts as its default value
  (None when it has none), so binding a parameter to its default is no change either."""
  saved = resolve_macros(parse_bindings(saved_text))
  current = resolve_macros(parse_bindings(current_text))
  skip = {f"train.{p}" for p in ignore}
  changes = []
  for key in sorted(set(saved) | set(current)):
    if key in skip or key.split("/")[-1].rsplit(".", 1)[0] in RUN_CONTROL_CONFIGURABLES:
      continue
    default = default_text(key)
    old, new = saved.get(key, default), current.get(key, default)
    if old != new:
      changes.append((key, old, new))
  return changes


def check_resumed_config(workdir):
  """Refuses to resume `workdir`'s checkpoints under a config other than their saved one.

  A workdir without a saved config (made before configs were saved) is resumed with a note.
  """
  path = os.path.join(workdir, SAVED_CONFIG)
  if not os.path.isfile(path):
    print(f"note: {workdir} holds checkpoints but no {SAVED_CONFIG}; cannot check that they were "
          f"trained under this config", flush=True)
    return
  with open(path) as f:
    changes = config_changes(f.read(), gin.config_str())
  if changes:
    listed = "\n".join(f"  {k}: {old} (checkpoints) -> {new} (now)" for k, old, new in changes)
    raise ConfigMismatchError(
        f"{workdir} holds checkpoints trained under another config ({path}); resuming would "
        f"report that run's model under this config. Differences:\n{listed}\n"
        f"Use another --workdir, or --gin_bindings=train.allow_config_change=True to continue "
        f"these checkpoints under the new config (e.g. a longer schedule).")
