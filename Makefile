# The two commands of the README.
.PHONY: demo test setup

demo:  ## set up .venv and run the main job on the synthetic default
	tools/demo.sh

test:  ## the whole test suite, each test once: bazel test //... (non-slow), pytest (slow)
	tools/test.sh

setup:  ## only create .venv (pinned packages) and install Bazel if missing
	tools/setup.sh
