"""scripts/*.py under brownie (what `brownie run scripts/X.py` calls): brownie's network and
accounts, the shared deploy of p2pescrow.deployments, and the same registry the SDK reads."""

from __future__ import annotations

import pytest

from p2pescrow import EscrowClient
from p2pescrow.deployments import Registry, check_deployment


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("P2PESCROW_HOME", str(tmp_path))
    for name in ("P2PESCROW_ACCOUNT", "P2PESCROW_PLATFORM_FEE_BPS", "P2PESCROW_FEE_RECIPIENT", "P2PESCROW_OWNER"):
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / "test.env"
    env_file.write_text("")
    return env_file


def test_deploy_verify_and_owner_scripts(home, accounts, web3, capsys):
    from scripts import deploy, set_fee, verify_deployment

    deploy.main("fee_bps=40", f"env_file={home}")
    out = capsys.readouterr().out
    chain_id = web3.eth.chain_id
    record = Registry().get(chain_id)
    assert record is not None and record.escrow in out
    assert (record.owner, record.platform_fee_bps) == (accounts[0].address, 40)
    assert all(c.ok is not False for c in check_deployment(web3, record))

    deploy.main(f"env_file={home}")
    assert "already deployed" in capsys.readouterr().out

    verify_deployment.main(f"env_file={home}")  # exits non-zero only on a failed check
    assert "all checks passed" in capsys.readouterr().out

    set_fee.main("fee_bps=10", "dry_run", f"env_file={home}")
    assert "40 -> 10" in capsys.readouterr().out
    set_fee.main("fee_bps=10", f"env_file={home}")
    assert Registry().get(chain_id).platform_fee_bps == 10

    client = EscrowClient.from_web3(web3, accounts[1].address)  # the registry gives the addresses
    trade = client.create(seller=accounts[2].address, amount="0.5")
    client.release(trade.trade_id)
    assert client.trade(trade.trade_id).state.name == "COMPLETED"


def test_verify_exits_non_zero_on_a_mismatch(home, accounts, web3, capsys):
    from scripts import deploy, verify_deployment

    deploy.main("fee_bps=40", "force", f"env_file={home}")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        verify_deployment.main("fee_bps=41", f"env_file={home}")
    assert exit_info.value.code == 1
    assert "FAIL" in capsys.readouterr().out
