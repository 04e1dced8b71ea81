# The two commands of the README.
.PHONY: demo test setup

demo:  ## set up .venv and run the main job on the synthetic default
	scripts/demo.sh

test:  ## the whole test suite, each test once: bazel test //... (non-slow), pytest (slow)
	scripts/test.sh

setup:  ## only create .venv (pinned packages) and install Bazel if missing
	scripts/setup.sh
