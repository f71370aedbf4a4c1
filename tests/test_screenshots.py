"""`make screenshots` keeps working: the script draws every view the README shows."""

from __future__ import annotations

import asyncio
import html

import screenshots


def test_the_screenshot_script_draws_each_view(tmp_path):
    paths = asyncio.run(screenshots.main(tmp_path))
    texts = {p.stem: html.unescape(p.read_text(encoding="utf-8")).replace("\xa0", " ") for p in paths}
    assert set(texts) == {"training", "layers", "validation", "runs", "snapshot"}
    assert all(t.startswith("<svg") for t in texts.values())
    # Each picture shows its own view, not the one before it.
    assert "min-max band" in texts["training"]
    assert "log10 upd/w" in texts["layers"]
    assert "Accuracy %" in texts["validation"]
    assert "sweep-demo/optimizer=adam" in texts["runs"]
    assert "conv1.weight[0][0]" in texts["snapshot"]
