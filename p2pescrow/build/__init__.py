"""Building the Solidity contracts into the JSON artifacts the SDK ships and the tests use.

``python -m p2pescrow.build`` (``make compile``) runs :func:`build`; the SDK only needs
:func:`load_artifact` / :func:`load_errors`. The compiler and its settings are fixed in
:mod:`p2pescrow.build.settings`; see :mod:`p2pescrow.build.compiler` for how solc is found.
"""

from __future__ import annotations

from .builder import BuildResult, Project, build, build_tests, check, compile_sources
from .compiler import (
    BrownieSolc,
    Compiler,
    ShimRegistration,
    find_compiler,
    install_shim_for_solcx,
    register_solc_for_brownie,
)
from .errors import ArtifactNotFound, BuildError, CompilationFailed, CompilerNotFound
from .loader import load_artifact, load_errors, shipped_artifact_names
from .settings import (
    DEPLOYABLE,
    ERROR_SOURCES,
    EVM_VERSION,
    OPTIMIZER_RUNS,
    REMAPPINGS,
    SOLC_VERSION,
    build_settings,
    solc_settings,
)

__all__ = [
    "DEPLOYABLE",
    "ERROR_SOURCES",
    "EVM_VERSION",
    "OPTIMIZER_RUNS",
    "REMAPPINGS",
    "SOLC_VERSION",
    "ArtifactNotFound",
    "BrownieSolc",
    "BuildError",
    "BuildResult",
    "CompilationFailed",
    "Compiler",
    "CompilerNotFound",
    "Project",
    "ShimRegistration",
    "build",
    "build_settings",
    "build_tests",
    "check",
    "compile_sources",
    "find_compiler",
    "install_shim_for_solcx",
    "load_artifact",
    "load_errors",
    "register_solc_for_brownie",
    "shipped_artifact_names",
    "solc_settings",
]
