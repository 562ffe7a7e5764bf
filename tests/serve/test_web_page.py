"""examples/web in headless Chromium (Debian's `chromium`, driven by Playwright for Python),
served by `lightllm serve --web`: onnxruntime-web (wasm) generates the same greedy tokens
as light_llm.runtime, streaming them into the page; transformers.js loads the same folder
as it is in the browser and generates them too."""

from __future__ import annotations

import json
import shutil
from urllib.parse import urlencode

import pytest
from serve_helpers import running_server, skip_unless_ci

from light_llm.runtime import generate_ids, load_export

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PROMPT = "def café(x):\n    return"
MAX_NEW_TOKENS = 40



@pytest.fixture()
def chromium() -> str:
    if shutil.which(CHROMIUM) is None:
        skip_unless_ci(f"{CHROMIUM} is missing: install Debian's chromium package "
                       "(apt-get install -y chromium) to run the browser test")
    return CHROMIUM


def test_pages_generate_runtime_greedy_tokens(chromium, web_packages, serve_export, tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    model = load_export(serve_export)
    expected = generate_ids(model.run, model.geometry, [model.encode(PROMPT)], max_new_tokens=MAX_NEW_TOKENS,
                            eos_id=model.eos_id, pad_id=model.pad_id or 0)[0]
    with running_server(serve_export, tmp_path, "--web") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(url.removesuffix("/v1") + "/")
            page.wait_for_function("document.getElementById('status').textContent !== 'loading'", timeout=60_000)
            assert page.text_content("#status") == "ready"
            page.fill("#prompt", PROMPT)
            page.fill("#max-new-tokens", str(MAX_NEW_TOKENS))
            page.evaluate("""() => { window.updates = 0;
                new MutationObserver(() => window.updates++).observe(
                    document.getElementById('output'), {childList: true, characterData: true, subtree: true}); }""")
            page.click("#generate")
            page.wait_for_function("['done'].includes(document.getElementById('status').textContent)"
                                   " || document.getElementById('status').textContent.startsWith('error')",
                                   timeout=60_000)
            assert page.text_content("#status") == "done"
            assert json.loads(page.get_attribute("#output", "data-ids")) == expected
            assert page.text_content("#output") == PROMPT + model.decode(expected)
            assert page.evaluate("window.updates") > 3  # streamed piece by piece

            query = urlencode({"prompt": PROMPT, "max_new_tokens": MAX_NEW_TOKENS})
            page.goto(url.removesuffix("/v1") + f"/transformers.html?{query}")
            page.wait_for_function("document.getElementById('status').textContent !== 'loading'", timeout=60_000)
            assert page.text_content("#status") == "done"
            assert json.loads(page.get_attribute("#output", "data-ids")) == expected
        finally:
            browser.close()
