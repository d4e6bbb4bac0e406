"""User agents cut, parsed and cached (``metronome.enrich.useragent``); what the hit step
stores of them is tested with the pipeline (test_pipeline.py)."""

from __future__ import annotations

from metronome.enrich.useragent import UA_MAX_CHARS, parse_user_agent, user_agent_text

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def test_user_agent_parsing_is_cached() -> None:
    assert parse_user_agent(IPHONE_SAFARI) is parse_user_agent(IPHONE_SAFARI)
    assert parse_user_agent.cache_info().maxsize == 4096


def test_the_header_is_cut_to_its_stored_size_and_a_blank_one_is_none() -> None:
    assert user_agent_text(None) is None
    assert user_agent_text(" \t") is None
    assert user_agent_text("x" * 1000) == "x" * UA_MAX_CHARS
    assert user_agent_text(IPHONE_SAFARI) == IPHONE_SAFARI
