"""When the poller gives a request to a thread (metronome.web.framing): only once it is whole."""

from __future__ import annotations

import pytest

from metronome.web.framing import Verdict, verdict

HEAD = b"POST /tick HTTP/1.1\r\nHost: x\r\n"


def judge(received: bytes, head_from: int = 0) -> Verdict:
    return verdict(received, max_head=200, max_body=100, head_from=head_from)


def test_headers_still_arriving_wait() -> None:
    assert judge(b"") is Verdict.HEAD
    assert judge(b"G") is Verdict.HEAD
    assert judge(b"GET / HTTP/1.1\r\nHost: x\r\n") is Verdict.HEAD


def test_a_request_without_a_body_is_ready_at_the_end_of_its_headers() -> None:
    assert judge(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") is Verdict.READY


def test_a_body_of_declared_length_is_waited_for() -> None:
    request = HEAD + b"Content-Length: 10\r\n\r\n"
    assert judge(request) is Verdict.BODY
    assert judge(request + b"12345") is Verdict.BODY
    assert judge(request + b"1234567890") is Verdict.READY
    assert judge(request + b"1234567890GET / HTTP/1.1") is Verdict.READY  # pipelined


def test_header_names_are_case_insensitive() -> None:
    assert judge(HEAD + b"content-LENGTH:  3 \r\n\r\nab") is Verdict.BODY


def test_a_body_larger_than_the_limit_is_left_to_the_app_to_refuse() -> None:
    assert judge(HEAD + b"Content-Length: 101\r\n\r\n") is Verdict.READY


@pytest.mark.parametrize("length", [b"-1", b"1e3", b"ten", b"", b"\xd9\xa3"])
def test_a_malformed_length_is_left_to_gunicorn_to_refuse(length: bytes) -> None:
    assert judge(HEAD + b"Content-Length: " + length + b"\r\n\r\n") is Verdict.READY


def test_expect_continue_is_ready_after_the_headers() -> None:
    request = HEAD + b"Content-Length: 10\r\nExpect: 100-continue\r\n\r\n"
    assert judge(request) is Verdict.READY


def test_a_header_section_over_the_limit_is_too_large() -> None:
    assert judge(HEAD + b"X: " + b"a" * 200) is Verdict.HEAD_TOO_LARGE
    assert judge(HEAD + b"X: " + b"a" * 200 + b"\r\n\r\n") is Verdict.HEAD_TOO_LARGE


def test_head_from_skips_bytes_known_not_to_end_the_headers() -> None:
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    # The end straddles the point searched from: still found.
    assert judge(request, head_from=len(request) - 1) is Verdict.READY


CHUNKED = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"


def test_a_chunked_body_is_ready_at_its_last_chunk() -> None:
    assert judge(CHUNKED) is Verdict.BODY
    assert judge(CHUNKED + b"5\r\nhel") is Verdict.BODY
    assert judge(CHUNKED + b"5\r\nhello\r\n") is Verdict.BODY
    assert judge(CHUNKED + b"5;ext=1\r\nhello\r\n0\r\n") is Verdict.BODY
    assert judge(CHUNKED + b"5\r\nhello\r\n0\r\n\r\n") is Verdict.READY


def test_chunk_trailers_are_waited_for() -> None:
    assert judge(CHUNKED + b"0\r\nX-Sum: 1\r\n") is Verdict.BODY
    assert judge(CHUNKED + b"0\r\nX-Sum: 1\r\n\r\n") is Verdict.READY


def test_chunks_over_the_body_limit_or_garbage_are_left_to_the_thread() -> None:
    assert judge(CHUNKED + b"65\r\n") is Verdict.READY  # 101 bytes: the app refuses them
    assert judge(CHUNKED + b"zz\r\n") is Verdict.READY  # gunicorn answers 400
    assert judge(HEAD + b"Transfer-Encoding: gzip\r\n\r\n") is Verdict.READY
