"""The secrets scan itself: it catches a leak in each place it looks, fails the test, and redacts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from p2pescrow.accounts import dev_account


def report(**fields):
    return SimpleNamespace(**{"sections": [], "longrepr": None, "outcome": "passed", **fields})


@pytest.fixture
def key() -> str:
    return "0x" + bytes(dev_account("dev1").key).hex()


def test_the_defaults_cover_the_dev_keys_and_test_passwords(secrets, key):
    assert secrets.find(f"key: {key}") == ["dev1 key ...690d"]
    assert secrets.find(key.upper().removeprefix("0X"))  # any case, with or without 0x
    assert secrets.find("password=correct horse battery staple 42")
    assert secrets.find("test test test test test test test test test test test junk")
    assert not secrets.find("0x" + "00" * 31 + "01")  # eth-tester's keys: not registered (ABI words)


@pytest.mark.parametrize("where", ["Captured stdout call", "Captured stderr setup", "Captured log call"])
def test_a_leak_in_captured_output_fails_the_test_and_is_redacted(secrets, key, where):
    crafted = report(sections=[(where, f"signing with {key}\n"), ("Captured stdout teardown", "fine")])

    leaks = secrets.check_report(crafted)

    assert leaks == [f"{where}: dev1 key ...690d"]
    assert crafted.outcome == "failed"
    assert key[2:] not in str(crafted.sections) and "<redacted dev1 key ...690d>" in crafted.sections[0][1]
    assert "secret(s) appeared" in crafted.longrepr and key[2:] not in crafted.longrepr


def test_a_leak_in_a_failure_report_or_a_command_output_is_caught(secrets, key):
    failed = report(outcome="failed", longrepr=f"AssertionError: assert '{key}' not in ...")
    assert secrets.check_report(failed) == ["failure report: dev1 key ...690d"]
    assert key[2:] not in failed.longrepr and "AssertionError" in failed.longrepr

    seen = report()
    assert secrets.check_report(seen, ['{"password": "correct horse battery staple 42"}'])
    assert seen.outcome == "failed"


def test_a_registered_secret_is_caught_and_short_ones_are_refused(secrets):
    secret = "hunter2-but-longer-" + os.urandom(8).hex()
    assert not secrets.check_report(report(sections=[("Captured stdout call", secret)]))
    secrets.register(secret, label="fixture secret")
    try:
        assert secrets.check_report(report(sections=[("Captured stdout call", secret)]))
    finally:
        secrets.unregister(secret)
    with pytest.raises(ValueError):
        secrets.register("short")


def test_a_clean_report_is_left_alone(secrets):
    clean = report(sections=[("Captured stdout call", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")])
    assert secrets.check_report(clean, ["all fine"]) == []
    assert clean.outcome == "passed" and clean.longrepr is None


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_a_real_pytest_run_that_prints_a_key_fails_with_it_redacted(tmp_path: Path, key, workers):
    (tmp_path / "test_leaky.py").write_text(textwrap.dedent("""
        from p2pescrow.accounts import dev_account

        def test_prints_a_key():
            print("the key is", "0x" + bytes(dev_account("dev1").key).hex())

        def test_clean():
            print("nothing to see")
    """))
    tests_dir = str(Path(__file__).resolve().parents[1])  # tests/, where support/ is
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [tests_dir, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "support.secrets_plugin", "-p", "no:cacheprovider",
                           "-rA", *workers, "test_leaky.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    output = done.stdout + done.stderr

    assert done.returncode == 1, output
    assert "1 failed, 1 passed" in output
    assert "secrets that appeared in test output" in output and "test_prints_a_key (call)" in output
    assert key[2:] not in output.lower() and "<redacted dev1 key ...690d>" in output
