"""The browser harness itself (tests/support/browser.py, tools/screenshots.py): without Chromium the
browser tests fail with one line naming Debian's package, never skip; the browser starts from a fresh
user-data folder with TOOLCHAIN.md's flags; and a page's misbehaviour is seen."""

from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.outcomes import Failed
from support import browser
from support.browser import CHROMIUM_FLAGS, PHONE, ChromiumMissing, Watch, chromium, horizontal_overflow

from tools import screenshots

#: Chromium is a subprocess, like the nodes of tests/e2e: out of `make test-fast`, in `make test`.
pytestmark = pytest.mark.e2e


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    gone = tmp_path / "chromium"
    monkeypatch.setattr(browser, "CHROMIUM", gone)
    return gone


def test_a_missing_chromium_fails_the_test_in_one_line_naming_the_package(no_chromium: Path) -> None:
    with pytest.raises(Failed) as failed:  # pytest.fail, not pytest.skip: Skipped is no subclass of Failed
        browser.require_chromium()
    message = str(failed.value)
    assert "\n" not in message
    assert str(no_chromium) in message and "`chromium` package" in message and "apt-get install" in message
    with pytest.raises(ChromiumMissing, match="`chromium` package"):
        with chromium():
            pass


def test_make_screenshots_without_chromium_is_one_error_line(no_chromium: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert screenshots.main(["--out", str(no_chromium.parent / "shots")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: Chromium is missing")
    assert not (no_chromium.parent / "shots").exists()


def test_chromium_starts_with_the_toolchain_flags_in_the_given_fresh_folder(tmp_path: Path) -> None:
    browser.require_chromium()
    profile = tmp_path / "profile"
    profile.mkdir()
    with chromium(user_data_dir=profile) as context:
        page = context.new_page()
        page.goto("chrome://version")
        command_line = page.locator("#command_line").inner_text()
        assert browser.CHROMIUM.name in page.locator("#executable_path").inner_text()
    for flag in CHROMIUM_FLAGS:
        assert flag in command_line
    assert f"--user-data-dir={profile}" in command_line
    assert any(profile.iterdir())  # Chromium's profile was written there
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "Cookies").write_text("")
    with pytest.raises(ValueError, match="not empty"):
        with chromium(user_data_dir=tmp_path / "used"):
            pass


def test_the_watch_sees_console_errors_exceptions_dialogs_and_sideways_scroll() -> None:
    browser.require_chromium()
    with chromium() as context:
        page = context.new_page()
        page.set_viewport_size(PHONE.size())
        watch = Watch.on(page)
        page.set_content("<p>quiet</p>")
        assert watch.problems() == [] and horizontal_overflow(page) == 0
        page.set_content('<div style="width: 900px">wide</div>')
        assert horizontal_overflow(page) >= 900 - PHONE.width
        page.evaluate("console.error('broken')")
        page.evaluate("setTimeout(() => { throw new Error('thrown') }, 0)")
        page.evaluate("setTimeout(() => alert('hello'), 0)")
        page.wait_for_timeout(300)
    assert any("broken" in e for e in watch.console_errors)
    assert any("thrown" in e for e in watch.page_errors)
    assert watch.dialogs == ["alert: hello"]
    assert len(watch.problems()) == 3
