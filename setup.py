"""Builds the optional CPU point-sampling kernel; package metadata lives in setup.cfg.

The kernel is plain C against the Python C API only (no Paddle or NumPy headers), so any C
compiler will do. Without OpenMP it is built single-threaded; without a compiler the package
still installs and `pointrend.ops` falls back to Paddle's grid_sample, which gives the same numbers.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP_FLAGS = {"msvc": (["/openmp"], [])}
GCC_LIKE_OPENMP_FLAGS = (["-fopenmp"], ["-fopenmp"])
# fp-contract=off keeps the compiler from fusing multiply-adds, so the results match Paddle's
# grid_sample bit for bit on the position arithmetic whatever the target CPU.
GCC_LIKE_FLAGS = ["-O3", "-ffp-contract=off"]


class BuildExtWithOptionalOpenMP(build_ext):
    """Compiles with OpenMP when the compiler supports it, otherwise without."""

    def build_extension(self, ext):
        compiler_type = self.compiler.compiler_type
        base_compile = [] if compiler_type == "msvc" else GCC_LIKE_FLAGS
        compile_flags, link_flags = OPENMP_FLAGS.get(compiler_type, GCC_LIKE_OPENMP_FLAGS)
        ext.extra_compile_args = base_compile + compile_flags
        ext.extra_link_args = link_flags
        try:
            super().build_extension(ext)
        except Exception as error:  # noqa: BLE001 - any compiler/linker failure means "retry serial"
            self.warn(
                f"building {ext.name} with OpenMP failed ({error}); building it single-threaded"
            )
            serial_only = [] if compiler_type == "msvc" else ["-Wno-unknown-pragmas"]
            ext.extra_compile_args = base_compile + serial_only
            ext.extra_link_args = []
            super().build_extension(ext)


setup(
    ext_modules=[
        Extension(
            "pointrend.ops._native",
            sources=["pointrend/ops/csrc/point_sample.c"],
            optional=True,
        )
    ],
    cmdclass={"build_ext": BuildExtWithOptionalOpenMP},
)
