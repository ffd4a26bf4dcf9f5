"""docs/python.md's examples run as written: every ```python block, in
order, in one namespace (the PyTorch block only where PyTorch is
installed; the kpf.run block only where the kpf command is built)."""
import importlib.util
import os
import re

import pytest

from conftest import kpf_command


def _blocks():
    from kpf import _config
    src = _config.source_dir()
    if not src:
        pytest.skip("installed package: docs/python.md lives in the source tree")
    with open(os.path.join(src, "docs", "python.md"), encoding="utf-8") as f:
        return re.findall(r"^```python\n(.*?)^```", f.read(), re.S | re.M)


def test_python_md_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = _blocks()
    assert len(blocks) >= 8
    ns = {"__name__": "docs_python_md"}
    skipped = []
    for i, code in enumerate(blocks):
        if "import torch" in code and not importlib.util.find_spec("torch"):
            skipped.append(f"block {i + 1} (PyTorch not installed)")
            continue
        if "kpf.run(" in code and not kpf_command():
            skipped.append(f"block {i + 1} (the kpf command is not built)")
            continue
        exec(compile(code, f"docs/python.md block {i + 1}", "exec"), ns)
    if skipped:
        with capsys.disabled():
            print("\n  docs/python.md: skipped " + ", ".join(skipped))
