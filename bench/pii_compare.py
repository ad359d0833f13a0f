"""PII detection: ours (reference_model/data/pii.py) vs libraries, on the tests' battery.

    pip install phonenumbers detect-secrets   # both run offline
    python bench/pii_compare.py

Phones: Google's libphonenumber port (``phonenumbers.PhoneNumberMatcher``, leniency VALID) with
default region US, and with the union over the regions whose national formats the battery holds
(US, GB, DE, FR). Keys: detect-secrets' provider plugins, keyword detector and entropy detectors
(its default settings). IP and e-mail have no library of that standing here (``ipaddress`` is
what ours uses to validate). Per kind: items found / real items, look-alikes flagged / look-alikes
(all look-alikes count for every detector), and throughput on the battery's texts.
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "reference_model")]

from pii_battery import held_out_look_alikes, held_out_real, look_alikes, real_items  # noqa: E402

from reference_model.data.pii import DETECTORS  # noqa: E402

Finder = Callable[[str], list[tuple[int, int]]]  # text -> spans


def ours(kind: str) -> Finder:
    return lambda text: [(s.start, s.end) for s in DETECTORS[kind](text)]


def phonenumbers_finder(regions: tuple[str, ...]) -> Finder:
    import phonenumbers as pn

    def find(text: str) -> list[tuple[int, int]]:
        return [(m.start, m.end) for r in regions for m in pn.PhoneNumberMatcher(text, r, leniency=pn.Leniency.VALID)]
    return find


GENERIC = {"Base64HighEntropyString", "HexHighEntropyString", "KeywordDetector", "IPPublicDetector"}


def detect_secrets_finder(providers_only: bool) -> Finder:
    """detect-secrets' ad-hoc line scan; ``providers_only`` drops its entropy, keyword and public-IP plugins."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings, transient_settings

    names = sorted(c.__name__ for c in get_mapping_from_secret_type_to_class().values())
    chosen = [n for n in names if not (providers_only and n in GENERIC)]

    def find(text: str) -> list[tuple[int, int]]:
        spans = []
        with default_settings(), transient_settings({"plugins_used": [{"name": n} for n in chosen]}):
            for secret in scan_line(text):
                value = secret.secret_value or ""
                start = text.find(value)
                if value and start >= 0:
                    spans.append((start, start + len(value)))
        return spans
    return find


def measure(find: Finder, kind: str, real: list[tuple[str, str, str]], fakes: list[str]) -> dict:
    mine = [(t, v) for t, k, v in real if k == kind]
    hit = 0
    for text, value in mine:
        lo = text.index(value)
        hit += any(s < lo + len(value) and e > lo for s, e in find(text))
    flagged = [t for t in fakes if find(t)]
    texts = [t for t, _, _ in real] + fakes
    t0 = time.perf_counter()
    for _ in range(5):
        for t in texts:
            find(t)
    rate = 5 * len(texts) / (time.perf_counter() - t0)
    return {"found": f"{hit}/{len(mine)}", "recall": round(hit / max(len(mine), 1), 4),
            "look_alikes_flagged": f"{len(flagged)}/{len(fakes)}", "examples_flagged": flagged[:4],
            "texts_per_s": round(rate)}


def main() -> None:
    sets = {"battery": (real_items(), look_alikes()), "held_out": (held_out_real(), held_out_look_alikes())}
    systems: dict[str, dict[str, Finder]] = {
        "phone": {"ours": ours("phone")}, "api_key": {"ours": ours("api_key")},
        "ip": {"ours": ours("ip")}, "email": {"ours": ours("email")}}
    notes = []
    try:
        from importlib.metadata import version
        systems["phone"]["phonenumbers (US)"] = phonenumbers_finder(("US",))
        systems["phone"]["phonenumbers (US, GB, DE, FR)"] = phonenumbers_finder(("US", "GB", "DE", "FR"))
        notes.append(f"phonenumbers {version('phonenumbers')}")
    except ImportError as e:
        notes.append(f"phonenumbers not run: {e}")
    try:
        from importlib.metadata import version
        systems["api_key"]["detect-secrets (all plugins)"] = detect_secrets_finder(providers_only=False)
        systems["api_key"]["detect-secrets (provider plugins only)"] = detect_secrets_finder(providers_only=True)
        notes.append(f"detect-secrets {version('detect-secrets')}")
    except ImportError as e:
        notes.append(f"detect-secrets not run: {e}")
    out: dict = {"libraries": notes}
    for name, (real, fakes) in sets.items():
        out[name] = {"real": len(real), "look_alikes": len(fakes),
                     **{kind: {sysname: measure(f, kind, real, fakes) for sysname, f in finders.items()}
                        for kind, finders in systems.items()}}
    print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
