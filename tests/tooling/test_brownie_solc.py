"""`make brownie` gives brownie this checkout's solc and writes nothing outside the checkout: the
shim lives in .build/solcx and brownie's own venv points py-solc-x there at start-up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from p2pescrow.build import SOLC_VERSION, register_solc_for_brownie
from p2pescrow.build.paths import find_node_modules

HAVE_SOLCJS = shutil.which("node") is not None and find_node_modules() is not None


def solcx_folder_seen(site_packages: Path, env: dict[str, str]) -> str:
    """What a Python started with ``site_packages`` as a site folder sees as $SOLCX_BINARY_PATH."""
    code = ("import os, site, sys; site.addsitedir(sys.argv[1]); "
            "print(os.environ.get('SOLCX_BINARY_PATH', ''))")
    return subprocess.run([sys.executable, "-c", code, str(site_packages)], capture_output=True, text=True,
                          env=env, check=True).stdout.strip()


@pytest.mark.skipif(not HAVE_SOLCJS, reason="needs node and node_modules/solc")
def test_brownie_gets_this_checkouts_solc_and_the_home_folder_is_untouched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, site_packages, home = tmp_path / "checkout", tmp_path / "site-packages", tmp_path / "home"
    for folder in (root, site_packages, home):
        folder.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SOLCX_BINARY_PATH", raising=False)

    done = register_solc_for_brownie(root, site_packages)
    again = register_solc_for_brownie(root, site_packages)

    shim = root / ".build" / "solcx" / f"solc-v{SOLC_VERSION}"
    assert (done.shim.path, done.shim.status, again.shim.status) == (shim, "installed", "unchanged")
    assert os.access(shim, os.X_OK)
    assert list(home.iterdir()) == []  # no ~/.solcx, nothing else
    env = {k: v for k, v in os.environ.items() if k != "SOLCX_BINARY_PATH"}
    assert solcx_folder_seen(site_packages, env) == str(shim.parent)
    # A folder the user chose themselves wins over ours.
    assert solcx_folder_seen(site_packages, {**env, "SOLCX_BINARY_PATH": "/opt/solc"}) == "/opt/solc"
    version = subprocess.run([str(shim), "--version"], capture_output=True, text=True, check=True).stdout
    assert f"Version: {SOLC_VERSION}+commit." in version
