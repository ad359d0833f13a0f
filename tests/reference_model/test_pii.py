"""PII masking measured on a battery of real-format items and look-alikes (``pii_battery.py``)."""
from __future__ import annotations

import re

import pytest
from pii_battery import held_out_look_alikes, held_out_real, look_alikes, real_items

from reference_model.data import pii
from reference_model.data.pii import MASKS, mask_pii
from reference_model.data.records import Doc
from reference_model.data.safety import SafetyConfig, safety


def _recall_and_fp(real, fakes, masker=mask_pii) -> tuple[float, float, list, list]:
    missed = [(t, k) for t, k, v in real if v in (out := masker(t)[0]) or MASKS[k] not in out]
    flagged = [t for t in fakes if masker(t)[0] != t]
    return 1 - len(missed) / len(real), len(flagged) / max(len(fakes), 1), missed, flagged


def test_battery_is_large_enough_and_varied():
    real, fakes = real_items(), look_alikes()
    assert len(real) >= 100 and len(fakes) >= 100
    kinds = {k for _, k, _ in real}
    assert kinds == {"phone", "ip", "email", "api_key"}
    texts = " ".join(t for t, _, _ in real)
    for needle in ("+49", "+33", "+91", "+81", "+55", "::1", "2001:db8::1", "sk_live_", "AKIA", "ghp_", "AIza"):
        assert needle in texts, needle
    for needle in ("1.2.3.4", "OID", "12 345 678", "1999 2000 2001", "get_password_from_environment()"):
        assert any(needle in t for t in fakes), needle


def test_battery_recall_and_false_positives():
    recall, fp, missed, flagged = _recall_and_fp(real_items(), look_alikes())
    assert recall >= 0.95, missed
    assert fp <= 0.02, flagged


def test_held_out_items_written_after_tuning():
    recall, fp, missed, flagged = _recall_and_fp(held_out_real(), held_out_look_alikes())
    assert recall >= 0.9, missed
    assert fp <= 0.05, flagged


@pytest.mark.parametrize("kind", ["phone", "ip", "email", "api_key"])
def test_every_kind_is_caught_on_its_own(kind):
    items = [(t, k, v) for t, k, v in real_items() if k == kind]
    recall, _, missed, _ = _recall_and_fp(items, [], masker=lambda t: mask_pii(t, [kind]))
    assert recall >= 0.95, missed


def test_the_old_single_regex_rules_fail_the_battery():
    """The rules the issue measured (one regex per kind, no context) miss international phones and
    compressed IPv6 and flag versions: the battery can tell a weak detector from ours."""
    old = [("ip", r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b"),
           ("phone", r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)\s?|\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4}(?!\w|\.\d)")]

    def old_masker(text):
        for kind, rx in old:
            text = re.sub(rx, MASKS[kind], text)
        return text, {}
    items = [(t, k, v) for t, k, v in real_items() if k in ("ip", "phone")]
    recall, fp, _, _ = _recall_and_fp(items, look_alikes(), masker=old_masker)
    assert recall < 0.95 and fp > 0.02


def test_safety_stage_masks_counts_and_keeps_look_alikes():
    real = real_items()
    docs = [Doc(f"r{i}", t, "t") for i, (t, _, _) in enumerate(real)]
    docs += [Doc(f"n{i}", t, "t") for i, t in enumerate(look_alikes())]
    result = safety(docs, SafetyConfig())
    by_id = {d.id: d for d in result.kept}
    assert result.report.counters["docs_masked"] == len(real)
    assert sum(v for k, v in result.report.counters.items() if k.startswith("masked:")) >= len(real)
    assert by_id["r0"].meta["pii_masked"] == {"phone": 1}
    assert all(by_id[f"n{i}"].text == t for i, t in enumerate(look_alikes()))


def test_pii_types_limits_what_is_masked():
    text = "Mail jane@example.com or call +49 30 901820."
    assert mask_pii(text, ["email"])[0] == "Mail <EMAIL> or call +49 30 901820."
    assert set(pii.DETECTORS) == set(pii.KINDS) == set(MASKS)
