"""The dashboard in a real headless Chromium (Debian's package, driven by Playwright): every
chart is drawn with data, the console stays clean, and screenshots land in docs/screenshots/."""

from __future__ import annotations

import shutil
import threading

import pytest
import waitress
from playwright.sync_api import sync_playwright

from cryptoquant.config import PROJECT_ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
CHARTS = ["chart-candles", "chart-equity", "chart-regression", "chart-expectancy",
          "chart-winrate", "chart-radar", "chart-rules", "signals"]


@pytest.fixture(scope="module")
def live_url(app):
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def _open(browser, url: str, width: int = 1440, height: int = 900):
    page = browser.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    return page, problems


def _chart_states(page) -> dict[str, tuple[str, int]]:
    return {el["id"]: (el["state"], int(el["points"] or 0)) for el in page.eval_on_selector_all(
        "[data-chart]", "els => els.map(e => ({id: e.id, state: e.dataset.state || '',"
                        " points: e.dataset.points || '0'}))")}


def test_every_chart_is_drawn_with_data(browser, live_url):
    page, problems = _open(browser, live_url + "/?symbol=BTCUSDT&interval=1h")
    states = _chart_states(page)
    assert sorted(states) == sorted(CHARTS)
    assert {k: v for k, v in states.items() if v[0] != "drawn" or v[1] == 0} == {}
    for chart in CHARTS[:-1]:  # Plotly drew SVG traces into each chart
        assert page.locator(f"#{chart} .main-svg").count() > 0
    assert page.locator("#signals tbody tr").count() == 15
    assert page.locator("#signals .action.NO_TRADE").count() > 0
    assert "pipeline success" in page.inner_text("#freshness")
    assert problems == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # test-*.png: this run's pictures (fixture data); the README's are taken on the demo data
    page.screenshot(path=str(SCREENSHOTS / "test-dashboard.png"), full_page=True)
    page.locator("#chart-candles").screenshot(path=str(SCREENSHOTS / "test-candles.png"))
    page.close()


def test_selectors_change_the_charts(browser, live_url):
    page, problems = _open(browser, live_url + "/")
    page.fill("#start", "2022-01-10")
    page.fill("#end", "2022-01-12")  # inclusive: three days
    with page.expect_response(lambda r: "/api/klines" in r.url and "start=" in r.url) as info:
        page.click("#filters button")
    klines = info.value.json()["klines"]
    assert (klines[0]["open_time"], klines[-1]["open_time"], len(klines)) == (
        "2022-01-10T00:00:00", "2022-01-12T23:00:00", 72)
    with page.expect_response(lambda r: "/api/klines" in r.url and "ETHUSDT" in r.url) as info:
        page.select_option("#symbol", "ETHUSDT")
    assert info.value.json()["symbol"] == "ETHUSDT"
    # candlestick + 7 indicator lines with 72 points each
    page.wait_for_function("document.querySelector('#chart-candles').dataset.points == '576'")
    assert "symbol=ETHUSDT" in page.url and "end=2022-01-12" in page.url
    assert problems == []
    page.close()


def test_no_data_in_range_is_shown_not_broken(browser, live_url):
    page, problems = _open(browser, live_url + "/?symbol=BNBUSDT&start=2030-01-01")
    states = _chart_states(page)
    assert states["chart-candles"] == ("empty", 0)
    assert "No data" in page.inner_text("#chart-candles")
    assert states["chart-radar"][0] == "drawn"  # latest signals do not depend on the range
    assert problems == []
    page.close()
