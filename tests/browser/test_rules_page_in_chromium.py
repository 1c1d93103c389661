"""The rules page in a real Chromium: a viewer sees each rule's state, expression,
severity, series and last evaluation, as ``opsbook rules`` lists them."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.rules.rules_support import push
from browser.login import log_in
from browser.sync_api import Page, expect
from opsbook.alerts.rules.jobs import log_only_sink
from opsbook.alerts.rules.service import evaluate_rule
from opsbook.runtime import Runtime
from support import TEST_CONFIG

RULES = """rules:
  - name: TokenUsageHigh
    expr: llm_tokens_used / llm_tokens_limit > 90%
    severity: P1
    description: Token budget nearly spent
  - name: QueueStuck
    expr: max(queue_depth[10m]) > 100
    for: 10m
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "opsbook.yaml"
    path.write_text(TEST_CONFIG + RULES)
    return path


def test_a_viewer_sees_each_rule_and_its_firing_series(
    page: Page, live_server: str, runtime: Runtime
) -> None:
    now = runtime.clock.now()
    push(
        runtime.db,
        [
            ("llm_tokens_used", {"provider": "openai"}, 950.0),
            ("llm_tokens_limit", {"provider": "openai"}, 1000.0),
        ],
        now,
    )
    rule = runtime.config.find_rule("TokenUsageHigh")
    assert rule is not None
    with runtime.db.session() as session, session.begin():
        evaluate_rule(session, config=runtime.config, rule=rule, now=now, sink=log_only_sink)

    log_in(page, live_server, runtime, "vic", "/rules")

    expect(page.get_by_role("link", name="Rules")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("caption")).to_have_text("2 rules, 1 firing, 0 pending")
    firing = page.get_by_role("row").filter(has_text="TokenUsageHigh")
    expect(firing).to_contain_text("firing")
    expect(firing).to_contain_text("Token budget nearly spent")
    expect(firing).to_contain_text("llm_tokens_used / llm_tokens_limit > 90%")
    expect(firing).to_contain_text("P1")
    expect(firing).to_contain_text("provider=openai")
    expect(firing).to_contain_text("0.95")
    idle = page.get_by_role("row").filter(has_text="QueueStuck")
    expect(idle).to_contain_text("inactive")
    expect(idle).to_contain_text("600 s")
    expect(idle).to_contain_text("not yet")
