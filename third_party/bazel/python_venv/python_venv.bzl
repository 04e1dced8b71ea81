"""A Python toolchain for the project's virtualenv, so `bazel run/test` see its packages.

The interpreter is $TFPOSE_PYTHON if set, else <workspace>/.venv/bin/python3, else python3.
"""

_BUILD = """
load("@bazel_tools//tools/python:toolchain.bzl", "py_runtime_pair")

py_runtime(
    name = "py3_runtime",
    interpreter_path = "{python}",
    python_version = "PY3",
)

py_runtime_pair(
    name = "runtime_pair",
    py3_runtime = ":py3_runtime",
)

toolchain(
    name = "toolchain",
    toolchain = ":runtime_pair",
    toolchain_type = "@bazel_tools//tools/python:toolchain_type",
)
"""

def _python_venv_impl(rctx):
    python = rctx.os.environ.get("TFPOSE_PYTHON", "")
    if not python:
        venv = rctx.path(Label("@//:WORKSPACE")).dirname.get_child(".venv").get_child("bin").get_child("python3")
        if venv.exists:
            python = str(venv)
        else:
            found = rctx.which("python3")
            if not found:
                fail("no Python: create .venv (make setup) or set TFPOSE_PYTHON")
            python = str(found)
    rctx.file("BUILD", _BUILD.format(python = python))

python_venv = repository_rule(
    implementation = _python_venv_impl,
    environ = ["TFPOSE_PYTHON"],
    local = True,
)
