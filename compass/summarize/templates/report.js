"use strict";
(function () {
  const table = document.getElementById("leaderboard");
  let sortState = {col: -1, dir: 1};
  table.querySelectorAll("th.sortable").forEach(function (th) {
    th.addEventListener("click", function () {
      const col = Number(th.dataset.col);
      sortState = {col: col, dir: sortState.col === col ? -sortState.dir : -1};
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      rows.sort(function (a, b) {
        const x = a.cells[col].dataset.value, y = b.cells[col].dataset.value;
        const nx = Number(x), ny = Number(y);
        const cmp = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return sortState.dir * cmp;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });

  const data = JSON.parse(document.getElementById("sample-data").textContent);
  const sources = data.sources, contexts = data.contexts;

  // Everything from the runs is untrusted: it reaches the page through textContent only.
  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }
  function cell(text, pre) {
    const td = el("td");
    td.appendChild(el(pre ? "pre" : "span", text));
    return td;
  }
  function option(select, value, text) {
    const node = el("option", text);
    node.value = value;
    select.appendChild(node);
  }
  // The sample's own question first; what came before it (begin, few-shot examples) folded below.
  function promptCell(r) {
    const td = el("td", undefined, "prompt");
    td.appendChild(el("pre", r.question, "question"));
    if (r.context >= 0) {
      const context = contexts[r.context];
      const details = el("details", undefined, "context");
      details.appendChild(el("summary", "instructions and few-shot examples (" + context.length + " characters)"));
      details.appendChild(el("pre", context));
      td.appendChild(details);
    }
    return td;
  }
  function choicesBlock(r) {
    const box = el("div", undefined, "choices");
    const best = Math.max.apply(null, r.choices.map(function (c) { return c[1]; }));
    r.choices.forEach(function (c) {
      const line = el("div", undefined, "choice" + (c[1] === best ? " chosen" : ""));
      line.appendChild(el("span", c[0], "label"));
      line.appendChild(el("span", (100 * c[1]).toFixed(1) + "%", "pct"));
      const bar = el("span", undefined, "bar");
      bar.style.width = (6 * c[1]).toFixed(2) + "em";
      line.appendChild(bar);
      if (c[0] === r.gold) line.appendChild(el("span", "gold", "mark"));
      box.appendChild(line);
    });
    return box;
  }
  function predictionCell(r) {
    const td = el("td", undefined, "prediction");
    if (r.thinking !== undefined) {  // a reasoning model: its thinking folded, the answer shown
      const details = el("details", undefined, "thinking");
      details.appendChild(el("summary", "thinking (" + r.thinking.length + " characters)"));
      details.appendChild(el("pre", r.thinking));
      td.appendChild(details);
    }
    td.appendChild(el("pre", r.prediction));
    if (r.choices) td.appendChild(choicesBlock(r));
    return td;
  }

  // Drill-down: one model on one dataset.
  const select = document.getElementById("sample-source");
  const failures = document.getElementById("only-failures");
  const body = document.getElementById("samples").tBodies[0];
  const count = document.getElementById("sample-count");
  sources.forEach(function (s, i) { option(select, String(i), s.model + " / " + s.dataset); });
  function show() {
    body.replaceChildren();
    const source = sources[Number(select.value)];
    if (!source) { count.textContent = "no samples"; return; }
    const rows = source.rows.filter(function (r) { return !failures.checked || r.failed; });
    rows.forEach(function (r) {
      const tr = el("tr", undefined, r.failed ? "wrong" : "right");
      tr.dataset.id = r.id;
      tr.appendChild(cell(r.id, false));
      tr.appendChild(promptCell(r));
      tr.appendChild(predictionCell(r));
      tr.appendChild(cell(r.extracted, true));
      tr.appendChild(cell(r.gold, true));
      const verdict = cell(r.verdict, false);
      verdict.className = "verdict";
      tr.appendChild(verdict);
      body.appendChild(tr);
    });
    count.textContent = rows.length + " shown of " + source.total;
  }
  select.addEventListener("change", show);
  failures.addEventListener("change", show);
  show();

  // Side by side: two models on the same samples of one dataset.
  const dsSelect = document.getElementById("compare-dataset");
  const aSelect = document.getElementById("compare-a"), bSelect = document.getElementById("compare-b");
  const disagreements = document.getElementById("only-disagreements");
  const compareBody = document.getElementById("compare").tBodies[0];
  const compareCount = document.getElementById("compare-count");
  const datasets = [];
  sources.forEach(function (s) { if (datasets.indexOf(s.dataset) < 0) datasets.push(s.dataset); });
  datasets.forEach(function (d, i) { option(dsSelect, String(i), d); });
  function fillModels() {
    const dataset = datasets[Number(dsSelect.value)];
    [aSelect, bSelect].forEach(function (sel, k) {
      sel.replaceChildren();
      sources.forEach(function (s, i) { if (s.dataset === dataset) option(sel, String(i), s.model); });
      sel.selectedIndex = Math.min(k, sel.options.length - 1);
    });
  }
  function answerKey(r) { return (r.answer_key || r.extracted) + "\u0000" + r.failed; }
  function answerCell(r) {
    if (!r) return cell("(not among this model's samples in the report)", false);
    const td = predictionCell(r);
    td.appendChild(el("div", "extracted: " + r.extracted, "extracted"));
    td.appendChild(el("div", "correct: " + r.verdict, "verdict-line"));
    return td;
  }
  function compare() {
    compareBody.replaceChildren();
    const a = sources[Number(aSelect.value)], b = sources[Number(bSelect.value)];
    if (!a || !b) { compareCount.textContent = "no samples"; return; }
    document.getElementById("compare-head-a").textContent = "A: " + a.model;
    document.getElementById("compare-head-b").textContent = "B: " + b.model;
    const byId = new Map(b.rows.map(function (r) { return [r.id, r]; }));
    const ids = a.rows.map(function (r) { return r.id; });
    const inA = new Set(ids);
    b.rows.forEach(function (r) { if (!inA.has(r.id)) ids.push(r.id); });
    const aById = new Map(a.rows.map(function (r) { return [r.id, r]; }));
    let both = 0, differing = 0, shown = 0;
    ids.forEach(function (id) {
      const ra = aById.get(id), rb = byId.get(id);
      const differs = ra && rb && answerKey(ra) !== answerKey(rb);
      if (ra && rb) both += 1;
      if (differs) differing += 1;
      if (disagreements.checked && !differs) return;
      shown += 1;
      const tr = el("tr", undefined, differs ? "disagree" : ra && rb ? "agree" : "one-sided");
      tr.dataset.id = id;
      tr.appendChild(cell(id, false));
      tr.appendChild(promptCell(ra || rb));
      const goldA = ra ? ra.gold : rb.gold, goldB = rb ? rb.gold : goldA;
      tr.appendChild(cell(goldA === goldB ? goldA : "A: " + goldA + "\nB: " + goldB, true));
      tr.appendChild(answerCell(ra));
      tr.appendChild(answerCell(rb));
      compareBody.appendChild(tr);
    });
    compareCount.textContent = shown + " shown; the models disagree on " + differing + " of the " + both +
      " samples both answered" + (ids.length > both ? "; " + (ids.length - both) + " answered by one model only" : "");
  }
  dsSelect.addEventListener("change", function () { fillModels(); compare(); });
  [aSelect, bSelect, disagreements].forEach(function (c) { c.addEventListener("change", compare); });
  fillModels();
  compare();
})();
