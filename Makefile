# The two commands of the README.
.PHONY: demo test setup

demo:  ## set up .venv and run the main job on the synthetic default
	tools/demo.sh

test:  ## the whole test suite: pytest and bazel test //...
	tools/test.sh

setup:  ## only create .venv (pinned packages) and install Bazel if missing
	tools/setup.sh
