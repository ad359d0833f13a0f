"""Answer extraction: from a model's raw output to the answer that is compared with gold."""
from __future__ import annotations

import re

_NUMBER = r"-?\d[\d,]*(?:\.\d+)?"


def first_capital(text: str) -> str:
    """The first standalone option letter A-E (``"(B) because"`` → ``"B"``)."""
    match = re.search(r"\b([A-E])\b", text)
    return match.group(1) if match else ""


def last_number(text: str) -> str:
    """The number after "The answer is", else after "####", else the last number in the text."""
    for pattern in (rf"answer is\s*\$?\s*({_NUMBER})", rf"####\s*\$?\s*({_NUMBER})"):
        found = re.findall(pattern, text, flags=re.IGNORECASE)
        if found:
            return normalize_number(found[0])
    numbers = re.findall(_NUMBER, text)
    return normalize_number(numbers[-1]) if numbers else ""


def normalize_number(text: str) -> str:
    text = text.replace(",", "").rstrip(".")
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else repr(value)


def strip(text: str) -> str:
    return text.strip()


# A top-level line that is part of a program rather than a demo of it: definitions, imports,
# decorators, comments and plain assignments (constants a solution may use).
_PROGRAM_LINE = re.compile(r"(?:async\s+def|def|class|import|from)\b|@|#|[A-Za-z_][\w.]*(?:\s*:[^=]+)?\s*=(?!=)")
_OPENING_FENCE = re.compile(r"```[ \t]*[\w+-]*[ \t]*\n")
_CODE_LINE = re.compile(r"^(?:[ \t]+\S|(?:async\s+def|def|class|import|from)\s)", re.MULTILINE)


def humaneval_completion(text: str) -> str:
    """The code of a HumanEval completion, ready to follow the prompt.

    A markdown fence is unwrapped (or, after code, taken as the end of it). A completion that
    starts indented is a function body and ends at the first top-level line (a new ``def``,
    ``class``, ``if __name__``, ``print(``...). One that starts at column 0 (the model wrote or
    repeated the whole function) keeps its definitions, imports and assignments and ends at the
    first other top-level statement, e.g. example calls or a ``__main__`` block.
    """
    text = text.replace("\r\n", "\n")
    fence = text.find("```")
    if fence >= 0:
        opening = _OPENING_FENCE.match(text, fence)
        if not opening or _CODE_LINE.search(text[:fence]):  # code came first: the fence closes it
            text = text[:fence]
        else:
            body = text[opening.end():]
            text = body[:body.find("```")] if "```" in body else body
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return ""
    is_body = lines[0][0] in " \t"
    kept = []
    for line in lines:
        top_level = line.strip() and line[0] not in " \t"
        if top_level and (is_body or not _PROGRAM_LINE.match(line)):
            break
        kept.append(line)
    code = "\n".join(kept).rstrip()
    return code + "\n" if code else ""


# Multiple-choice answers in Chinese or English model output (C-Eval generation). Full-width letters
# and colons are folded first. Tiers, strongest first; within a tier the last statement wins, since
# a model states its conclusion after discussing the options ("不选A，选C" → C).
_FULL_WIDTH = str.maketrans("ＡＢＣＤ：", "ABCD:")
_LETTER = r"[(（\[【]?\s*([A-D])(?![A-Za-z])"
_OPTION_STATEMENTS = [
    # "选项A错误" names an option without choosing it: after 选项 a verb is required.
    re.compile(r"(?:答案\s*(?:应该|应|就|也)?\s*(?:是|为|选)?|选项\s*(?:应该|应|就|也)?\s*(?:是|为))\s*:?\s*" + _LETTER),
    re.compile(r"(?i:answer)\s*(?:is|:)?\s*:?\s*" + _LETTER),  # only the word ignores case: "is c" is no option
    re.compile(r"(?<![A-Za-z])([A-D])\s*(?:选项|项)?\s*(?:是|为)?\s*(?:正确|对)"),
    re.compile(r"(?<!不)(?:选择|选)\s*" + _LETTER),
]
_BRACKETED_OPTION = re.compile(r"[(（\[【]\s*([A-D])\s*[)）\]】]")
_STANDALONE_OPTION = re.compile(r"(?<![A-Za-z])([A-D])(?![A-Za-z])")


def option_letter(text: str) -> str:
    """The chosen option A-D: from "答案是 B", "正确答案为（Ｂ）", "选B", "B项正确", "The answer is (B)",
    else the first bracketed letter "(B)", else the first letter standing alone ("B. 12", "我认为是B")."""
    text = text.translate(_FULL_WIDTH)
    for pattern in _OPTION_STATEMENTS:
        found = pattern.findall(text)
        if found:
            return found[-1]
    for pattern in (_BRACKETED_OPTION, _STANDALONE_OPTION):
        match = pattern.search(text)
        if match:
            return match.group(1)
    return ""
