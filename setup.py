"""Build hook: the wheel gets the gRPC code compiled from proto/ at build time (it is never
committed), by the same scripts/gen-proto that scripts/setup runs for a checkout. Everything
else about the package is in pyproject.toml."""

import os
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithProto(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:  # an editable install uses the checkout's own (gen-proto)
            subprocess.run(
                ["bash", str(Path(__file__).parent / "scripts" / "gen-proto"), self.build_lib],
                check=True,
                env={**os.environ, "PYTHON": sys.executable},
            )


setup(cmdclass={"build_py": BuildPyWithProto})
