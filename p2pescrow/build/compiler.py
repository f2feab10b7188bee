"""Find the Solidity compiler (solc, pinned to ``settings.SOLC_VERSION``) that a build runs.

Looked for in this order, first hit wins:

1. ``P2PESCROW_SOLC=/path/to/solc`` — an explicit compiler binary (native solc, or anything
   with its command line). It must exist and report the pinned version; it is never replaced
   by a fallback, so a typo is an error rather than a silent switch of compiler.
2. A solc of the pinned version that py-solc-x has installed: ``~/.solcx/solc-v<version>``, or
   the folder named by ``$SOLCX_BINARY_PATH``, as py-solc-x itself resolves it. On a normal
   machine ``python -c 'import solcx; solcx.install_solc("<version>")'`` puts one there.
   Skipped when it is our own shim wrapper (step 3, registered there for brownie): that file
   may have been written by another checkout, since deleted.
3. The npm package ``solc`` (solcjs, the official Emscripten build of the same compiler) through
   ``solc_shim.js``. Needs ``node`` on PATH and ``node_modules/solc`` (``npm ci``). This is the
   path on machines that can reach package registries only.

The shim is run through a generated sh wrapper because py-solc-x and brownie want one
executable path, and a wheel does not reliably keep the executable bit of a ``.js`` file.
:func:`install_shim_for_solcx` registers the same wrapper where py-solc-x (and so
eth-brownie) looks for installed compilers.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import CompilerNotFound
from .paths import NODE_MODULES_ENV, SHIM_JS, find_node_modules
from .settings import SOLC_VERSION

#: Environment variable naming an explicit solc binary (discovery step 1).
SOLC_ENV = "P2PESCROW_SOLC"

#: First line after the shebang of every wrapper we write: how we recognise our own files.
SHIM_MARKER = "# p2pescrow solcjs shim"

CompilerKind = Literal["explicit", "solcx", "solcjs-shim"]

_VERSION_RE = re.compile(r"Version:\s*(\d+\.\d+\.\d+)(\S*)")


@dataclass(frozen=True)
class Compiler:
    """A solc that answers ``--version`` and ``--standard-json`` like the native binary.

    ``version`` is what ``solc --version`` printed, e.g. ``0.8.30+commit.73712a01.Linux.g++``
    or ``0.8.30+commit.73712a01.Emscripten.clang``.
    """

    path: Path
    kind: CompilerKind
    version: str

    @property
    def base_version(self) -> str:
        """``0.8.30``: what the pin in settings.py is compared with."""
        return self.version.split("+", 1)[0].split("-", 1)[0]

    @property
    def long_version(self) -> str:
        """``0.8.30+commit.73712a01``: the version as solc writes it into contract metadata.

        The platform suffix (``.Linux.g++``, ``.Emscripten.clang``) is dropped because native
        solc and solcjs of one release produce identical output, and the artifacts must not
        depend on which of them built them.
        """
        match = re.match(r"(\d+\.\d+\.\d+(?:-[^+]*)?(?:\+commit\.[0-9a-f]+)?)", self.version)
        return match.group(1) if match else self.version


@dataclass(frozen=True)
class ShimRegistration:
    """What :func:`install_shim_for_solcx` did at ``path``.

    ``status``: ``installed`` (nothing was there), ``updated`` (our older wrapper rewritten),
    ``unchanged`` (our wrapper, already current) or ``kept`` (someone else's compiler, e.g. a
    real native solc, left alone).
    """

    path: Path
    status: Literal["installed", "updated", "unchanged", "kept"]


def find_compiler(*, node_modules: Path | None = None) -> Compiler:
    """Return the compiler to use, searching in the order of the module docstring.

    ``node_modules`` overrides where step 3 looks for the npm ``solc`` package (default:
    :func:`p2pescrow.build.paths.find_node_modules`). Raises :class:`CompilerNotFound`.
    """
    explicit = os.environ.get(SOLC_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise CompilerNotFound(f"{SOLC_ENV}={explicit}: no such file.")
        if not os.access(path, os.X_OK):
            raise CompilerNotFound(f"{SOLC_ENV}={explicit}: not executable.")
        return _checked(path, "explicit", f"{SOLC_ENV}={explicit}")

    installed = _solcx_installed()
    # Our own shim registered there for brownie may come from another checkout (even a deleted
    # one): this checkout's shim is the same compiler and cannot point at missing files.
    if installed is not None and not _is_our_wrapper(installed):
        return _checked(installed, "solcx", f"py-solc-x's {installed}")

    wrapper = _shim_wrapper(node_modules)
    return _checked(wrapper, "solcjs-shim", f"the solcjs shim {wrapper}")


def solc_version_text(path: Path) -> str:
    """Run ``path --version`` and return the version it reports (``0.8.30+commit...``)."""
    try:
        proc = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=120, check=False
        )
    except OSError as exc:
        raise CompilerNotFound(f"cannot run {path}: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise CompilerNotFound(f"{path} --version did not answer within 120 s") from exc
    match = _VERSION_RE.search(proc.stdout)
    if proc.returncode != 0 or match is None:
        detail = (proc.stderr or proc.stdout).strip()
        raise CompilerNotFound(
            f"{path} --version failed (exit {proc.returncode}): {detail or 'no version printed'}"
        )
    return match.group(1) + match.group(2)


def install_shim_for_solcx(*, node_modules: Path | None = None, folder: Path | None = None) -> ShimRegistration:
    """Register the solcjs shim as py-solc-x's ``solc-v<SOLC_VERSION>`` in ``folder`` (default:
    py-solc-x's install folder, ``$SOLCX_BINARY_PATH`` or ``~/.solcx``), if that slot is free.

    py-solc-x (and eth-brownie through it) takes any executable named ``solc-v<version>`` in its
    install folder for an installed compiler, which is how ``brownie compile`` works without
    downloading solc. A file already there that is not ours — a real native solc — is never
    overwritten. ``make brownie`` uses :func:`register_solc_for_brownie`, which keeps it in the
    checkout.
    """
    if folder is None:
        import solcx

        folder = Path(solcx.get_solcx_install_folder())
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"solc-v{SOLC_VERSION}"
    text = shim_wrapper_text(_require_node(), _require_solc_package(node_modules))
    if target.exists() or target.is_symlink():
        if not _is_our_wrapper(target):
            return ShimRegistration(target, "kept")
        if target.read_text(encoding="utf-8") == text:
            return ShimRegistration(target, "unchanged")
        _write_executable(target, text)
        return ShimRegistration(target, "updated")
    _write_executable(target, text)
    return ShimRegistration(target, "installed")


#: py-solc-x looks for installed compilers in ``$SOLCX_BINARY_PATH`` (else ``~/.solcx``).
SOLCX_PATH_ENV = "SOLCX_BINARY_PATH"
#: The file :func:`register_solc_for_brownie` writes into brownie's venv.
BROWNIE_PTH = "p2pescrow-solcx.pth"


@dataclass(frozen=True)
class BrownieSolc:
    """What :func:`register_solc_for_brownie` did: the shim, and the start-up file pointing at it."""

    shim: ShimRegistration
    pth: Path


def register_solc_for_brownie(root: Path, site_packages: Path, *, node_modules: Path | None = None) -> BrownieSolc:
    """Give brownie this checkout's solc without touching anything outside the checkout.

    The shim goes to ``<root>/.build/solcx/solc-v<SOLC_VERSION>``, and ``site_packages`` (brownie's
    own venv, ``.venv-brownie``) gets a ``.pth`` start-up line that sets ``$SOLCX_BINARY_PATH`` to
    that folder unless it is already set: every brownie run from that venv then finds it, with no
    variable to export. (brownie reads ``.env`` only after it compiled, so .env cannot carry it.)
    A machine-wide ``~/.solcx`` is never read or written, so deleting this checkout cannot break
    another checkout's brownie, as a shared ``~/.solcx`` entry pointing into a deleted clone did."""
    folder = root / ".build" / "solcx"
    shim = install_shim_for_solcx(node_modules=node_modules, folder=folder)
    pth = site_packages / BROWNIE_PTH
    pth.write_text(f"import os; os.environ.setdefault({SOLCX_PATH_ENV!r}, {str(folder)!r})\n")
    return BrownieSolc(shim, pth)


def shim_wrapper_text(node: Path, node_modules: Path) -> str:
    """The sh wrapper that runs the shim with a fixed node and node_modules (absolute paths)."""
    return (
        "#!/bin/sh\n"
        f"{SHIM_MARKER}: solc {SOLC_VERSION} as solcjs through Node (p2pescrow/build/compiler.py)\n"
        f"{NODE_MODULES_ENV}={shlex.quote(str(node_modules))}\n"
        f"export {NODE_MODULES_ENV}\n"
        f'exec {shlex.quote(str(node))} {shlex.quote(str(SHIM_JS))} "$@"\n'
    )


def _checked(path: Path, kind: CompilerKind, what: str) -> Compiler:
    compiler = Compiler(path=path, kind=kind, version=solc_version_text(path))
    if compiler.base_version != SOLC_VERSION:
        raise CompilerNotFound(
            f"{what} is solc {compiler.version}, but the project pins {SOLC_VERSION} "
            "(p2pescrow/build/settings.py)."
        )
    return compiler


def _solcx_installed() -> Path | None:
    """py-solc-x's installed solc of the pinned version (honours $SOLCX_BINARY_PATH), or None."""
    try:
        import solcx
        from solcx.exceptions import SolcNotInstalled
    except ImportError:  # py-solc-x is a dependency, but discovery must not crash without it
        return None
    try:
        if not any(str(v) == SOLC_VERSION for v in solcx.get_installed_solc_versions()):
            return None
        return Path(solcx.install.get_executable(SOLC_VERSION))
    except (SolcNotInstalled, OSError):
        return None


def _require_node() -> Path:
    node = shutil.which("node")
    if node is None:
        raise CompilerNotFound(
            f"no Solidity compiler: {SOLC_ENV} is not set, py-solc-x has no solc {SOLC_VERSION}, "
            "and `node` is not on PATH for the npm solcjs fallback. Install Node.js (>= 18) and "
            f"run `npm ci`, or set {SOLC_ENV} to a solc {SOLC_VERSION} binary."
        )
    return Path(node).resolve()


def _require_solc_package(node_modules: Path | None) -> Path:
    folder = node_modules if node_modules is not None else find_node_modules()
    if folder is None or not (folder / "solc" / "package.json").is_file():
        where = f"in {folder}" if folder is not None else "(no node_modules folder found)"
        raise CompilerNotFound(
            f"no Solidity compiler: {SOLC_ENV} is not set, py-solc-x has no solc {SOLC_VERSION}, "
            f"and the npm package solc is not installed {where}. Run `npm ci` in the project "
            f"root (or `make setup`), or set {SOLC_ENV} to a solc {SOLC_VERSION} binary."
        )
    return folder.resolve()


def _shim_wrapper(node_modules: Path | None) -> Path:
    """Write (if needed) and return the wrapper for this node + node_modules in the user cache.

    One wrapper per node_modules folder (its path hash is in the name), so two checkouts never
    fight over one file; rewritten only when its text changes, atomically.
    """
    node = _require_node()
    modules = _require_solc_package(node_modules)
    text = shim_wrapper_text(node, modules)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "p2pescrow"
    tag = hashlib.sha256(str(modules).encode()).hexdigest()[:12]
    wrapper = cache / f"solc-v{SOLC_VERSION}-solcjs-{tag}"
    try:
        current = wrapper.read_text(encoding="utf-8")
    except OSError:
        current = None
    if current != text:
        try:
            _write_executable(wrapper, text)
        except OSError:  # read-only home (some CI sandboxes): use the temp folder instead
            wrapper = Path(tempfile.gettempdir()) / f"p2pescrow-{os.getuid()}" / wrapper.name
            _write_executable(wrapper, text)
    return wrapper


def _is_our_wrapper(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(256)
    except OSError:
        return False
    return SHIM_MARKER.encode() in head


def _write_executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o755)
    os.replace(tmp, path)
