"""URL building: `path_segment` keeps scanned text inside one path segment, `api_base`
accepts the site address forms people type and refuses the unsafe ones."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kiosk.iiq import Connection, IIQClient, InvalidInputError, api_base, path_segment

BASE = "https://district.incidentiq.com/api/v1.0"
TAG_PREFIX = "/api/v1.0/assets/assettag/"
BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# What may appear unencoded in a segment: RFC 3986 unreserved minus the dot, plus escapes.
SEGMENT_CHARS = re.compile(r"(?:[A-Za-z0-9_~-]|%[0-9A-F]{2})+")

TRICKY = [
    "../users",
    "..",
    ".",
    "%2e%2e",
    "%2E%2E%2Fusers",
    "..%2f..%2fusers",
    "?x=1",
    "#frag",
    "CB 004512",
    " CB-004512 ",
    "a/b",
    "a\\b",
    "ÉLÈVE-12",
    "学生-7",
    "😀",
    "%",
    "%zz",
    "100%",
    "x" * 500,
    "../" * 170,
    "CB-004512\n",
    "tag;param=1",
    "@evil.example",
    "//evil.example/x",
    "http://evil.example/",
]

text_inputs = st.text(min_size=1, max_size=600).filter(lambda s: s.strip() != "")
nasty_inputs = st.text(alphabet="./%?#\\ 2eEfF@:;&=+", min_size=1, max_size=40).filter(
    lambda s: s.strip() != ""
)


def _check_segment(text: str) -> None:
    out = path_segment(text)
    for forbidden in ("/", "?", "#", ".", " ", "\\"):
        assert forbidden not in out, (text, out)
    assert not BAD_PERCENT.search(out), (text, out)
    assert SEGMENT_CHARS.fullmatch(out), (text, out)
    assert unquote(out) == text
    url = httpx.URL(BASE + "/assets/assettag/" + out)
    # httpx neither normalises nor re-encodes the segment: the server gets exactly it.
    assert url.raw_path == (TAG_PREFIX + out).encode("ascii")
    assert url.path.startswith(TAG_PREFIX)
    assert url.path[len(TAG_PREFIX) :] == text
    assert url.query == b""
    assert url.fragment == ""
    assert url.host == "district.incidentiq.com"


@settings(max_examples=300, deadline=None)
@given(text_inputs)
def test_path_segment_is_one_safe_segment(text: str) -> None:
    _check_segment(text)


@settings(max_examples=300, deadline=None)
@given(nasty_inputs)
@example("..")
@example("%2e%2e")
def test_path_segment_with_url_syntax_characters(text: str) -> None:
    _check_segment(text)


@pytest.mark.parametrize("text", TRICKY, ids=lambda t: repr(t[:20]))
def test_path_segment_tricky_examples(text: str) -> None:
    _check_segment(text)


def test_path_segment_known_encodings() -> None:
    assert path_segment("../users") == "%2E%2E%2Fusers"
    assert path_segment("%2e%2e") == "%252e%252e"
    assert path_segment("CB-004512") == "CB-004512"
    assert path_segment("a b") == "a%20b"
    assert path_segment("é") == "%C3%A9"


@pytest.mark.parametrize("text", ["", " ", "   ", "\t", "\n", " \t\r\n ", "\u3000"])
def test_path_segment_refuses_empty_and_whitespace(text: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        path_segment(text)
    assert info.value.request_sent is False
    assert str(info.value) == "Nothing to look up."


@pytest.mark.parametrize("text", ["../users", "..", "%2e%2e", "?x=1", "#frag", "a b", "学生"])
def test_client_request_url_stays_under_the_tag_route(text: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"Items": []})

    async def go() -> None:
        connection = Connection(site_url="https://district.incidentiq.com", site_id="s", token="t")
        async with IIQClient(connection, transport=httpx.MockTransport(handler)) as client:
            assert await client.assets_by_tag(text) == []

    asyncio.run(go())
    assert len(seen) == 1
    url = seen[0].url
    assert url.raw_path.startswith(TAG_PREFIX.encode())
    assert b"/" not in url.raw_path[len(TAG_PREFIX) :]
    assert url.path[len(TAG_PREFIX) :] == text
    assert url.query == b""
    assert url.fragment == ""


@pytest.mark.parametrize("text", ["", "  ", "\t\n"])
def test_client_sends_nothing_for_an_empty_scan(text: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"Items": []})

    async def go() -> None:
        connection = Connection(site_url="https://district.incidentiq.com", site_id="s", token="t")
        async with IIQClient(connection, transport=httpx.MockTransport(handler)) as client:
            for call in (client.assets_by_tag, client.assets_by_serial, client.search_users):
                with pytest.raises(InvalidInputError):
                    await call(text)

    asyncio.run(go())
    assert seen == []


# --- api_base ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "expected"),
    [
        ("https://district.incidentiq.com", BASE),
        ("https://district.incidentiq.com/", BASE),
        ("https://district.incidentiq.com///", BASE),
        ("https://district.incidentiq.com/api/v1.0", BASE),
        ("https://district.incidentiq.com/api/v1.0/", BASE),
        ("https://district.incidentiq.com//api/v1.0//", BASE),
        ("HTTPS://District.IncidentIQ.com/API/V1.0", BASE),
        ("  https://district.incidentiq.com/  ", BASE),
        ("district.incidentiq.com", BASE),
        ("district.incidentiq.com/api/v1.0", BASE),
        ("district.incidentiq.com:8443", "https://district.incidentiq.com:8443/api/v1.0"),
        ("https://district.incidentiq.com:443/", "https://district.incidentiq.com:443/api/v1.0"),
        ("https://district.incidentiq.com/aPi/V1.0///", BASE),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123/api/v1.0"),
        ("http://127.0.0.1:8123/api/v1.0/", "http://127.0.0.1:8123/api/v1.0"),
        ("http://127.5.6.7", "http://127.5.6.7/api/v1.0"),
        ("http://localhost:8123", "http://localhost:8123/api/v1.0"),
        ("http://LOCALHOST:8123/", "http://localhost:8123/api/v1.0"),
        ("http://[::1]:8123", "http://[::1]:8123/api/v1.0"),
        ("http://[::1]/api/v1.0", "http://[::1]/api/v1.0"),
        ("http://127.0.0.1:8123/API/V1.0", "http://127.0.0.1:8123/api/v1.0"),
        ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443/api/v1.0"),
    ],
)
def test_api_base_accepts(site: str, expected: str) -> None:
    assert api_base(site) == expected
    assert api_base(expected) == expected


@pytest.mark.parametrize(
    ("site", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("http://district.incidentiq.com", "https"),
        ("http://10.0.0.5:8080", "https"),
        ("http://192.168.1.10", "https"),
        ("http://[2001:db8::1]", "https"),
        ("http://127.0.0.1.nip.io", "https"),
        ("http://localhost.evil.example", "https"),
        ("ftp://district.incidentiq.com", "look like"),
        ("file:///etc/passwd", "look like"),
        ("https://", "look like"),
        ("https://user:secret@district.incidentiq.com", "user name"),
        ("https://user@district.incidentiq.com", "user name"),
        ("https://district.incidentiq.com/?next=evil", "user name"),
        ("https://district.incidentiq.com/#frag", "user name"),
        ("http://127.0.0.1:8123/?a=1", "user name"),
        ("https://district.incidentiq.com:99999", "not a valid URL"),
        ("https://district.incidentiq.com:port", "not a valid URL"),
        ("https://district.incidentiq.com:-1", "not a valid URL"),
    ],
)
def test_api_base_refuses(site: str, why: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        api_base(site)
    assert why in str(info.value)
    assert info.value.request_sent is False


@pytest.mark.parametrize(
    ("site", "root"),
    [
        # Addresses pasted from the browser: every call would go to a route that is not there.
        ("https://x.incidentiq.com/agent/assets", "https://x.incidentiq.com"),
        ("https://x.incidentiq.com/login", "https://x.incidentiq.com"),
        ("https://x.incidentiq.com/some/path/", "https://x.incidentiq.com"),
        ("https://x.incidentiq.com/agent/assets/CB-004512", "https://x.incidentiq.com"),
        ("x.incidentiq.com/agent", "https://x.incidentiq.com"),
        ("HTTPS://X.IncidentIQ.com/Login", "https://x.incidentiq.com"),
        ("https://x.incidentiq.com:8443/login", "https://x.incidentiq.com:8443"),
        # Near misses of the API base are paths too.
        ("https://x.incidentiq.com/api", "https://x.incidentiq.com"),
        ("https://x.incidentiq.com/api/v1", "https://x.incidentiq.com"),
        ("https://x.incidentiq.com/api/v2.0", "https://x.incidentiq.com"),
        ("https://x.incidentiq.com/api/v1.0/assets", "https://x.incidentiq.com"),
        ("https://x.incidentiq.com/api/v1.0/api/v1.0", "https://x.incidentiq.com"),
        ("https://x.incidentiq.com/iiq/api/v1.0", "https://x.incidentiq.com"),
        ("http://127.0.0.1:8123/login", "http://127.0.0.1:8123"),
        ("http://[::1]:8123/agent", "http://[::1]:8123"),
    ],
)
def test_api_base_refuses_a_path(site: str, root: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        api_base(site)
    assert str(info.value) == f"{site} has a path; use the site address only: {root}"
    assert "\n" not in str(info.value)
    assert info.value.request_sent is False
    # What the message suggests is accepted.
    assert api_base(root) == root + "/api/v1.0"


def test_client_refuses_a_site_url_with_a_path() -> None:
    with pytest.raises(InvalidInputError, match="has a path"):
        IIQClient(
            Connection(site_url="https://x.incidentiq.com/agent/assets", site_id="s", token="t")
        )


def test_client_refuses_plain_http_to_a_real_host() -> None:
    with pytest.raises(InvalidInputError, match="https"):
        IIQClient(Connection(site_url="http://district.incidentiq.com", site_id="s", token="t"))


@pytest.mark.parametrize(("site_id", "token"), [("", "t"), ("s", "")])
def test_client_refuses_missing_token_or_site_id(site_id: str, token: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        IIQClient(Connection(site_url="https://d.incidentiq.com", site_id=site_id, token=token))
    assert info.value.request_sent is False


labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
hosts = st.lists(labels, min_size=1, max_size=4).map(lambda ls: ".".join([*ls, "org"]))
# The site root, with or without the API base in any case, and any trailing slashes.
api_spellings = st.builds(
    lambda chars, flips: "".join(c.upper() if f else c for c, f in zip(chars, flips, strict=True)),
    st.just("/api/v1.0"),
    st.lists(st.booleans(), min_size=9, max_size=9),
)
suffixes = st.one_of(
    st.sampled_from(["", "/", "//", "/api/v1.0", "/api/v1.0/", "/API/v1.0//", "/Api/V1.0"]),
    st.tuples(st.sampled_from(["", "/"]), api_spellings, st.integers(0, 3)).map(
        lambda t: t[0] + t[1] + "/" * t[2]
    ),
)
# Anything else after the host: pages, deeper API routes, near misses.
segments = st.from_regex(r"[A-Za-z0-9._~-]{1,12}", fullmatch=True).filter(
    lambda seg: seg not in (".", "..")
)
paths = st.lists(segments, min_size=1, max_size=4).map(lambda segs: "/" + "/".join(segs))
paths = paths.filter(lambda p: p.rstrip("/").lower() not in ("", "/api/v1.0"))


@settings(max_examples=200, deadline=None)
@given(hosts, suffixes, st.sampled_from(["https://", "HTTPS://", ""]))
def test_api_base_property_https(host: str, suffix: str, scheme: str) -> None:
    out = api_base(scheme + host + suffix)
    assert out == f"https://{host}/api/v1.0"
    assert api_base(out) == out
    assert httpx.URL(out).host == host


@settings(max_examples=200, deadline=None)
@given(hosts, paths, st.sampled_from(["", "/", "/api/v1.0"]), st.sampled_from(["https://", ""]))
def test_api_base_property_any_other_path_is_refused(
    host: str, path: str, tail: str, scheme: str
) -> None:
    site = scheme + host + path + tail
    with pytest.raises(InvalidInputError) as info:
        api_base(site)
    message = str(info.value)
    assert message == f"{site} has a path; use the site address only: https://{host}"
    assert api_base(f"https://{host}") == f"https://{host}/api/v1.0"


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["127.0.0.1", "localhost", "[::1]"]),
    st.integers(min_value=1, max_value=65535),
    paths,
)
def test_api_base_property_loopback_path_is_refused(host: str, port: int, path: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(f"only: http://{host}:{port}")):
        api_base(f"http://{host}:{port}{path}")


@settings(max_examples=100, deadline=None)
@given(hosts, suffixes)
def test_api_base_property_http_refused_for_non_loopback(host: str, suffix: str) -> None:
    with pytest.raises(InvalidInputError, match="https"):
        api_base("http://" + host + suffix)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["127.0.0.1", "127.1.2.3", "localhost", "[::1]"]),
    st.integers(min_value=1, max_value=65535),
    suffixes,
)
def test_api_base_property_http_loopback_allowed(host: str, port: int, suffix: str) -> None:
    assert api_base(f"http://{host}:{port}{suffix}") == f"http://{host}:{port}/api/v1.0"
