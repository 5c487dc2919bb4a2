"""The Python package's build: setuptools for the package, CMake for the extension.

pyproject.toml names setuptools as the build backend; build_ext here configures this source tree
with CMake (only the module's target: the reader, the loader and the bindings) for the Python
that runs pip, and puts _imgpack where setuptools packs it. Needs cmake, a C++20 compiler and
the libraries ./dev setup installs (libjpeg-turbo, xxHash; pybind11 from pip or Debian).
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent


def version():
    """The one version, from CMakeLists.txt's project()."""
    return re.search(r"project\(imgpack VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text()).group(1)


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        out = pathlib.Path(self.get_ext_fullpath(ext.name)).parent.resolve()
        build = pathlib.Path(self.build_temp).resolve() / "cmake"
        configure = ["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                     f"-DPython_EXECUTABLE={sys.executable}", f"-DIMGPACK_PYTHON_DIR={out}",
                     "-DIMGPACK_BUILD_PYTHON=ON", "-DBUILD_TESTING=OFF", "-DIMGPACK_BUILD_BENCH=OFF",
                     "-DIMGPACK_INSTALL=OFF"]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        subprocess.run(configure, check=True)
        subprocess.run(["cmake", "--build", str(build), "--target", "_imgpack", "-j", str(os.cpu_count() or 1)],
                       check=True)


setup(
    version=version(),
    packages=["imgpack"],
    package_dir={"": "python"},
    ext_modules=[Extension("imgpack._imgpack", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
)
