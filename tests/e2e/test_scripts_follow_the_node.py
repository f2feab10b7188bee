"""`--network local` means the same node for the scripts as for the CLI: the one `p2pescrow node
start` runs, on whatever port it was given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.clitools import free_port, run

ROOT = Path(__file__).resolve().parents[2]



@pytest.mark.anvil
def test_scripts_find_the_managed_node_on_its_port(home: Path) -> None:
    port = free_port()
    started = run("--json", "node", "start", "--port", str(port), home=home)
    assert started.exit_code == 0, started.stderr
    escrow = json.loads(started.stdout)["deployment"]["escrow"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PESCROW_") or k == "P2PESCROW_NODE_MODULES"}
    env.pop("ETH_RPC_URL", None)
    env["P2PESCROW_HOME"] = str(home)
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "verify_deployment.py"), "--network", "local"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=home.parent)
    assert proc.returncode == 0, proc.stderr
    assert f"127.0.0.1:{port}" in proc.stdout + proc.stderr or escrow in proc.stdout, proc.stdout
