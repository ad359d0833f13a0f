"""PII detection: e-mail addresses, phone numbers, IPv4/IPv6 addresses, API keys and secrets.

Each detector proposes spans with a pattern and then checks them the way a reader would: an IP
address must parse (``ipaddress``) and must not be a version, an OID or a section number by its
context; a phone number needs a phone's shape (a ``+``/``00`` country code, a trunk ``0``, or a
separator structure) and is refused when it reads as a date, a list of years, a thousands-grouped
number or an ISBN; an assigned secret must look random, not like a code identifier or a
placeholder. Overlapping spans resolve to the earliest, then the longest.

``tests/reference_model/pii_battery.py`` holds the measured battery (real formats and look-alikes).
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["api_key", "email", "ip", "phone"]
KINDS: tuple[Kind, ...] = ("api_key", "email", "ip", "phone")
MASKS = {"email": "<EMAIL>", "phone": "<PHONE>", "ip": "<IP_ADDRESS>", "api_key": "<API_KEY>"}


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str


# -- API keys: the published formats of major providers --------------------------------------------

_B = r"(?<![A-Za-z0-9_\-])"   # a key starts at a token boundary ...
_E = r"(?![A-Za-z0-9_\-])"    # ... and ends at one
PROVIDER_KEYS: dict[str, str] = {
    "aws_access_key_id": r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}",
    "github": r"(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})",
    "gitlab": r"gl(?:pat|dt|ptt|rt)-[A-Za-z0-9_\-]{20,}",
    "slack": r"xox[abposre]-[A-Za-z0-9\-]{10,}",
    "slack_webhook": r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+",
    "stripe": r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,}",
    "openai_anthropic": r"sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\d\d-)?[A-Za-z0-9_\-]{20,}",
    "google_api_key": r"AIza[0-9A-Za-z_\-]{35}",
    "google_oauth": r"GOCSPX-[A-Za-z0-9_\-]{28}|ya29\.[0-9A-Za-z_\-]{20,}",
    "huggingface": r"hf_[A-Za-z0-9]{30,}",
    "twilio": r"(?:AC|SK)[0-9a-f]{32}",
    "sendgrid": r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}",
    "mailgun": r"key-[0-9a-f]{32}",
    "npm": r"npm_[A-Za-z0-9]{36}",
    "pypi": r"pypi-AgE[A-Za-z0-9_\-]{50,}",
    "shopify": r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
    "digitalocean": r"do[opr]_v1_[a-f0-9]{64}",
    "databricks": r"dapi[a-f0-9]{32}(?:-\d)?",
    "azure_storage": r"(?<=AccountKey=)[A-Za-z0-9+/]{86}==",
    "jwt": r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",
    "telegram_bot": r"\d{8,10}:AA[A-Za-z0-9_\-]{33}",
    "private_key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
}
_PROVIDERS = re.compile("|".join(f"{_B}(?:{p}){_E}" if not p.startswith(("(?<=", "-----", "https")) else f"(?:{p})"
                                 for p in PROVIDER_KEYS.values()))
# Prefixes that are also common words or kebab-case names need a digit in the body to count.
_NEEDS_DIGIT = ("sk-", "gl", "xox", "key-")

# name = value, name: value, "name": "value" where the name says it holds a secret.
_ASSIGNED = re.compile(
    r"(?i)(?P<name>[A-Za-z0-9_.\-]*(?:api[_\-]?key|apikey|secret|token|passw(?:or)?d|passwd|pwd|access[_\-]?key"
    r"|auth[_\-]?key|credential|private[_\-]?key)[A-Za-z0-9_\-]*)[\"']?\s*(?::=|=>|[:=])\s*"
    r"(?:(?P<q>[\"'`])(?P<quoted>[^\"'`\s]{8,200})(?P=q)|(?P<secret>[^\s\"'`,;()\[\]{}<>]{8,}))")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z_]*(?:[.:][A-Za-z_][A-Za-z0-9_]*)*|[A-Z][A-Z0-9_]*")
_PLACEHOLDER = re.compile(r"(?i)^(?:your|my|example|changeme|placeholder|xxx|dummy|redacted|none|null|true|false)"
                          r"|^(?:\$|%\(|\{\{)|^(.)\1+$")


def _looks_random(value: str) -> bool:
    """A secret mixes letters with digits or symbols; identifiers, env-var names and placeholders do not."""
    if _PLACEHOLDER.search(value) or _IDENTIFIER.fullmatch(value):
        return False
    has_alpha = any(c.isalpha() for c in value)
    has_other = any(c.isdigit() or not (c.isalnum() or c.isspace()) for c in value)
    return has_alpha and has_other and not re.fullmatch(r"[a-z]+(?:[_\-][a-z]+)*_?v?\d{1,2}", value)


def find_api_keys(text: str) -> Iterator[Span]:
    for m in _PROVIDERS.finditer(text):
        key = m.group(0)
        if key.startswith(_NEEDS_DIGIT) and not any(c.isdigit() for c in key.split("-", 1)[-1]):
            continue
        yield Span(m.start(), m.end(), "api_key")
    for m in _ASSIGNED.finditer(text):
        group = "quoted" if m.group("quoted") else "secret"
        value = m.group(group) if group == "quoted" else m.group(group).rstrip(".,:;!?")
        start, end = m.start(group), m.start(group) + len(value)
        if group == "secret" and text[end:end + 1] in ("(", "[", "."):
            continue  # a call, an index, an attribute: code, not a value
        if not _looks_random(value) or value.startswith(("http://", "https://")):
            continue
        yield Span(start, end, "api_key")


# -- e-mail addresses ----------------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@(?:[A-Za-z0-9\-]+\.)+(?P<tld>[A-Za-z]{2,24})(?![\w\-])")
# "icon@2x.png", "logo@3x.webp": image-density file names, not addresses.
_FILE_EXT = frozenset(["png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "bmp", "ico", "tif", "tiff"])


def find_emails(text: str) -> Iterator[Span]:
    for m in _EMAIL.finditer(text):
        if m.group("tld").lower() in _FILE_EXT:
            continue
        yield Span(m.start(), m.end(), "email")


# -- IP addresses --------------------------------------------------------------------------------

_IPV4 = re.compile(r"(?<![\w.\-])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d|\w|-\w)")
_NOT_IP_BEFORE = re.compile(r"(?i)(?:\b(?:version|versions|ver|release|build|python|node|java|go|rust|gcc|clang|"
                            r"oid|oids|section|sect|chapter|clause|table|figure|fig|step|rule|item|article|art|"
                            r"paragraph|para|note|appendix|rfc|firmware|kernel|driver|sdk|bios|patch|update|upgrade)"
                            r"\b\.?\s*[:#]?\s*(?:[\d.]+\s*(?:,|and|or|to|-|–)\s*)?|\bv\s*|[=~<>!^]=?\s*|§\s*)$")
_IPV6 = re.compile(r"(?<![\w:.])(?:(?:[0-9A-Fa-f]{1,4})?:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?"
                   r"(?:%[\w.]+)?(?![\w:])")


def find_ips(text: str) -> Iterator[Span]:
    for m in _IPV4.finditer(text):
        if _NOT_IP_BEFORE.search(text[max(0, m.start() - 24):m.start()]):
            continue
        try:
            ipaddress.IPv4Address(m.group(0))
        except ValueError:
            continue
        yield Span(m.start(), m.end(), "ip")
    for m in _IPV6.finditer(text):
        cand = m.group(0).rstrip(":") if not m.group(0).endswith("::") else m.group(0)
        try:
            ipaddress.IPv6Address(cand.split("%", 1)[0])
        except ValueError:
            continue
        groups = [g for g in re.split(r":+", cand.split("%", 1)[0]) if g]
        if not groups or (len(groups) < 3 and not any(c.isdigit() for c in cand)):
            continue  # "::" alone, "add::beef"-like code paths
        before = text[max(0, m.start() - 3):m.start()]
        if re.search(r"[\w\])]\[$", before):  # x[::2], a[1::3]: a slice, not an address
            continue
        yield Span(m.start(), m.start() + len(cand), "ip")


# -- phone numbers -------------------------------------------------------------------------------

_PHONE = re.compile(
    r"(?<![\w.+\-/:,])"
    r"(?P<num>(?:(?:\+|00)\d{1,3}[\s.\-]?(?:\(0\)[\s.\-]?)?)?"          # country code, "(0)" of +44 (0)20 ...
    r"(?:\(\d{1,5}\)[\s.\-]?)?"                                          # area code in brackets
    r"\d{1,8}(?:[\s.\-]\d{1,8}){0,5})"
    r"(?![\w\-+/]|[.,:]\d)")
_PHONE_CUE = re.compile(r"(?i)\b(?:tel|phone|telephone|call|fax|mobile|cell|whatsapp|hotline|ring|text|contact|"
                        r"reach|dial|sms)\b[^\n\d]{0,12}$")
_NOT_PHONE_CUE = re.compile(r"(?i)\b(?:isbn|issn|sku|order|invoice|serial|version|part|ref|doi|id|no|number of|"
                            r"years?|page|pages|population|total|sum|zip|postcode|account|iban|ssn)\b\W{0,3}$")
_DATE = re.compile(r"(?:\d{4}[\-./]\d{1,2}[\-./]\d{1,2}|\d{1,2}[\-./]\d{1,2}[\-./]\d{2,4})")


def _is_year(g: str) -> bool:
    return len(g) == 4 and 1800 <= int(g) <= 2099


def _phone_like(num: str, before: str) -> bool:
    digits = re.sub(r"\D", "", num)
    groups = re.findall(r"\d+", num)
    intl = num.startswith(("+", "00"))
    if not 7 <= len(digits) <= 15 or _NOT_PHONE_CUE.search(before):
        return False
    if _DATE.fullmatch(num.strip()) or all(_is_year(g) for g in groups):
        return False  # 2023-10-02, 02/10/2023, "1999 2000 2001"
    if len(groups) == 1:  # no separators: only "+4930901820" or a cue like "call 4155550132"
        return intl or (bool(_PHONE_CUE.search(before)) and len(digits) >= 8)
    if num.startswith(("978-", "979-", "978 ", "979 ")) and len(digits) in (10, 13):
        return False  # ISBN-13
    seps = set(re.findall(r"[\s.\-]", num))
    if "." in seps and any(len(g) < 2 for g in groups[intl:]):
        return False  # 10.0.19041.1, +35236450.6: versions, section numbers, signed decimals
    if intl:
        return len(digits) >= 8
    trunk = num.lstrip("(").startswith("0")
    if not trunk and len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:]) and seps <= {" ", "\u00a0", "."}:
        return bool(_PHONE_CUE.search(before))  # 12 345 678, 1.000.000: thousands grouping
    if not trunk and all(len(g) <= 2 for g in groups):
        return False  # 12 34 56 78: a list of small numbers (French-style pairs start with 0)
    if num.startswith("(") or trunk:
        return len(digits) >= 9 or bool(_PHONE_CUE.search(before))
    # No country code, no trunk prefix: the North American 3-3-4 shape, or a cue.
    return bool(re.fullmatch(r"1?[\s.\-]?\d{3}[\s.\-]\d{3}[\s.\-]\d{4}", num)) or bool(_PHONE_CUE.search(before))


def find_phones(text: str) -> Iterator[Span]:
    for m in _PHONE.finditer(text):
        num = m.group("num").rstrip(" .-")
        before = text[max(0, m.start() - 24):m.start()]
        if _phone_like(num, before):
            yield Span(m.start(), m.start() + len(num), "phone")


DETECTORS: dict[str, Callable[[str], Iterator[Span]]] = {
    "api_key": find_api_keys, "email": find_emails, "ip": find_ips, "phone": find_phones}
PRIORITY = {"api_key": 0, "email": 1, "ip": 2, "phone": 3}  # a key's digits are not a phone number


def find_pii(text: str, kinds: Sequence[str] = KINDS) -> list[Span]:
    """Non-overlapping spans, earliest first; on overlap the higher-priority kind, then the longer span wins."""
    spans = [s for kind in kinds for s in DETECTORS[kind](text)]
    spans.sort(key=lambda s: (PRIORITY[s.kind], s.start, -(s.end - s.start)))
    taken: list[Span] = []
    for s in spans:
        if all(s.end <= t.start or s.start >= t.end for t in taken):
            taken.append(s)
    return sorted(taken, key=lambda s: s.start)


def mask_pii(text: str, kinds: Sequence[str] = KINDS) -> tuple[str, dict[str, int]]:
    counts: dict[str, int] = {}
    out, pos = [], 0
    for s in find_pii(text, kinds):
        out += [text[pos:s.start], MASKS[s.kind]]
        pos = s.end
        counts[s.kind] = counts.get(s.kind, 0) + 1
    out.append(text[pos:])
    return "".join(out), counts
