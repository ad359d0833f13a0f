"""Judge prompts: jinja2 templates, built in or given as text by ``eval_cfg.evaluator.judge_template``.

Single grading gets ``question`` (the prompt the model answered), ``answer``, ``reference`` (empty
when the dataset has none) and the rating bounds ``lo``, ``hi``; pairwise comparison gets
``question``, ``answer_a``, ``answer_b`` and ``reference``. Undefined names are errors, so a
template typo stops the run at config load instead of sending broken prompts.
"""
from __future__ import annotations

import jinja2
from jinja2 import meta

from compass.errors import CompassError

SINGLE = """\
Please act as an impartial judge and rate the quality of the response to the user question below. \
Consider helpfulness, correctness, relevance, depth and clarity.\
{% if reference %} A reference answer is given: compare the response with it and take every mistake \
into account.{% endif %} Begin with a short explanation and be as objective as possible. Then rate \
the response on a scale from {{ lo }} to {{ hi }}, strictly in this format: "Rating: [[N]]", where N \
is your rating.

[Question]
{{ question }}
{% if reference %}
[Reference Answer]
{{ reference }}
[End of Reference Answer]
{% endif %}
[Response]
{{ answer }}
[End of Response]
"""

PAIRWISE = """\
Please act as an impartial judge and compare two responses to the user question below. Decide \
which response follows the user's instructions and answers the question better, considering \
helpfulness, correctness, relevance, depth and clarity.\
{% if reference %} A reference answer is given: use it to check correctness.{% endif %} The order \
in which the responses appear, their length and their style must not influence your decision. \
Begin with a short comparison, then give your final verdict strictly in this format: "[[A]]" if \
response A is better, "[[B]]" if response B is better, "[[C]]" for a tie.

[Question]
{{ question }}
{% if reference %}
[Reference Answer]
{{ reference }}
[End of Reference Answer]
{% endif %}
[Response A]
{{ answer_a }}
[End of Response A]

[Response B]
{{ answer_b }}
[End of Response B]
"""

BUILTIN = {"single": SINGLE, "pairwise": PAIRWISE}
DEFAULT = {"judge_single": "single", "judge_pairwise": "pairwise"}
# Per evaluator: the names a template may use, and those it must use (else the judge never sees the answers).
VARIABLES = {"judge_single": ({"question", "answer", "reference", "lo", "hi"}, {"answer"}),
             "judge_pairwise": ({"question", "answer_a", "answer_b", "reference"}, {"answer_a", "answer_b"})}

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def compile_template(text_or_name: str | None, evaluator: str, where: str) -> jinja2.Template:
    """The judge prompt template for ``evaluator`` (a canonical type), checked; one-line errors."""
    name_or_text = text_or_name or DEFAULT[evaluator]
    text = BUILTIN.get(name_or_text, name_or_text)
    allowed, required = VARIABLES[evaluator]
    try:
        used = meta.find_undeclared_variables(_ENV.parse(text))
    except jinja2.TemplateSyntaxError as exc:
        raise CompassError(f"{where}: jinja2 syntax error on line {exc.lineno}: {exc.message}") from None
    if used - allowed:
        raise CompassError(f"{where}: unknown name(s) {', '.join(sorted(used - allowed))} "
                           f"(a {evaluator} template may use {', '.join(sorted(allowed))})")
    if required - used:
        raise CompassError(f"{where}: the template never shows {', '.join(sorted(required - used))} "
                           f"(write {{{{ name }}}}, jinja2 style)")
    return _ENV.from_string(text)
