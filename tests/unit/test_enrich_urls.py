"""URLs without their secrets, split into their parts (``metronome.enrich.urls``)."""

from __future__ import annotations

import pytest

from metronome.config import DEFAULT_KEEP_PARAMS
from metronome.enrich.urls import clean_url, url_field, url_parts


def test_referrer_is_split_into_host_path_and_page() -> None:
    parts = url_parts("https://www.WashingtonPost.com/articles/dc-news/?utm=x#top")
    assert parts == {
        "full": "https://www.WashingtonPost.com/articles/dc-news/?utm=x#top",
        "host": "washingtonpost.com",
        "path": "/articles/dc-news/",
        "page": "washingtonpost.com/articles/dc-news",
    }
    assert url_parts("https://arcgis.com/")["page"] == "arcgis.com"
    assert url_parts("arcgis.com/maps")["page"] == "arcgis.com/maps"


def test_an_unparsable_url_is_kept_whole() -> None:
    assert url_parts("http://[broken") == {"full": "http://[broken"}


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("https://x.org/reset?token=s3cret", "https://x.org/reset"),
        ("https://x.org/cb#access_token=abc&state=1", "https://x.org/cb"),
        (
            "https://x.org/a?email=a%40b.org&utm_source=n&ref=hn",
            "https://x.org/a?utm_source=n&ref=hn",
        ),
        ("https://x.org/?utm_id=7&refx=1&xref=2", "https://x.org/?utm_id=7"),
        ("https://x.org/?utm%5Fsource=n&q", "https://x.org/?utm%5Fsource=n"),  # names decoded
        ("https://x.org/#/orders/7?token=x", "https://x.org/#/orders/7"),  # a hash route stays
        ("https://x.org/#!/inbox", "https://x.org/#!/inbox"),
        ("https://x.org/page#section", "https://x.org/page"),
        ("/docs?x=1&utm_medium=ad", "/docs?utm_medium=ad"),  # a request target
        ("https://x.org/a?", "https://x.org/a"),
        ("not a url#x", "not a url"),
    ],
)
def test_a_clean_url_keeps_no_fragment_but_a_route_and_only_kept_parameters(
    raw: str, clean: str
) -> None:
    assert clean_url(raw, DEFAULT_KEEP_PARAMS) == clean


def test_the_kept_parameters_are_configurable() -> None:
    assert clean_url("https://x.org/?page=2&q=a&utm_source=n", ("page",)) == "https://x.org/?page=2"
    assert clean_url("https://x.org/?a=1&b#frag", ("*",)) == "https://x.org/?a=1&b"  # all
    assert clean_url("https://x.org/?utm_source=n", ()) == "https://x.org/"  # none


def test_a_request_target_becomes_full_path_and_the_query_it_keeps() -> None:
    assert url_field("/docs?token=s3cret&utm_source=n#top") == {
        "full": "/docs?utm_source=n",
        "path": "/docs",
        "query": "utm_source=n",
    }
    assert url_field("/docs?token=s3cret") == {"full": "/docs", "path": "/docs"}
    assert url_field("/docs?a=1", ("*",))["query"] == "a=1"
