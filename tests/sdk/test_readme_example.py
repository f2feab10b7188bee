"""The README's SDK example runs verbatim and prints what its comments say."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_sdk_example_runs_as_written():
    section = README.read_text().split("## Python SDK", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue().splitlines() == [
        "refused: the caller may not do this to this trade",
        "COMPLETED",
        "1",
    ]
