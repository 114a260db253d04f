// The demo page: POST /v1/suggest, show the label, the scores and (for a call-out) the call-in candidates;
// POST /v1/classify with explain to highlight the words that pushed the message toward its label.
// Plain DOM code, no build step. Text from the server is set with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

async function postJSON(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = (data && data.error) || { code: "http_" + response.status, message: response.statusText };
    throw Object.assign(new Error(error.message), { code: error.code, status: response.status });
  }
  return data;
}

function formatScores(scores) {
  return Object.entries(scores).map(([name, value]) => `${name} ${value.toFixed(2)}`).join(" · ");
}

function showScores(scores) {
  const body = $("scores").tBodies[0];
  body.replaceChildren();
  for (const [name, value] of Object.entries(scores)) {
    const row = body.insertRow();
    row.insertCell().textContent = name;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${Math.round(value * 200)}px`;
    row.insertCell().append(bar);
    row.insertCell().textContent = value.toFixed(3);
  }
}

function showResult(result, note) {
  $("label").textContent = result.label;
  $("label").dataset.label = result.label;
  showScores(result.scores);
  const rewrite = result.rewrite;
  $("suggestion").hidden = !rewrite;
  $("candidates").replaceChildren();
  // When no candidate passed the guard the server says so (rewrite null, with a reason): show that, never a
  // refused candidate as the suggestion.
  const abstained = Boolean(rewrite) && rewrite.rewrite === null;
  // The guard's detox path: no candidate passed as a call-in, and this one is the message without the attack.
  const detox = Boolean(rewrite) && !abstained && Boolean(rewrite.scores && (rewrite.scores.detox || rewrite.scores.deletion));
  $("suggestion-title").textContent = detox ? "Suggested rewrite: the message without the attack" : "Suggested call-in";
  $("rewrite").textContent = rewrite ? (abstained ? "No call-in suggested." : rewrite.rewrite) : "";
  $("rewrite").classList.toggle("abstained", abstained);
  $("abstain-reason").textContent = abstained ? rewrite.reason : "";
  if (rewrite) {
    for (const candidate of rewrite.candidates) {
      const item = document.createElement("li");
      const score = document.createElement("span");
      score.className = "score";
      const problems = candidate.problems && candidate.problems.length ? `; refused: ${candidate.problems.join("; ")}` : "";
      score.textContent = ` (${formatScores(candidate.scores)}${problems})`;
      if (problems) item.className = "refused";
      item.append(candidate.text, score);
      $("candidates").append(item);
    }
  }
  $("note").textContent = note || (result.label === "call_out" ? "" : "Not a call-out: nothing to rewrite.");
  $("result").hidden = false;
}

// The message with each explanation span wrapped in <mark> (built as DOM nodes, never as HTML).
function showExplanation(text, result) {
  const spans = (result.spans || []).slice().sort((a, b) => a.start - b.start);
  $("uncertain").hidden = !result.uncertain;
  $("why").hidden = spans.length === 0;
  const out = $("explained");
  out.replaceChildren();
  let last = 0;
  for (const span of spans) {
    out.append(text.slice(last, span.start));
    const mark = document.createElement("mark");
    mark.textContent = text.slice(span.start, span.end);
    mark.title = `pushed toward ${result.label}: ${span.score.toFixed(2)}`;
    out.append(mark);
    last = span.end;
  }
  out.append(text.slice(last));
}

async function check(event) {
  event.preventDefault();
  const text = $("message").value.trim();
  if (!text) return;
  $("status").textContent = "checking…";
  $("check").disabled = true;
  try {
    try {
      showResult(await postJSON("v1/suggest", { text, num_candidates: 3 }));
    } catch (error) {
      if (error.code !== "model_unavailable") throw error;
      // No rewriter on this server: still show the classification.
      const classified = await postJSON("v1/classify", { texts: [text] });
      showResult(classified.results[0], "This server has no rewriter loaded, so no call-in is suggested.");
    }
    const explained = await postJSON("v1/classify", { texts: [text], explain: true });
    showExplanation(text, explained.results[0]);
    $("status").textContent = "";
  } catch (error) {
    $("status").textContent = `Error: ${error.message}`;
  } finally {
    $("check").disabled = false;
  }
}

$("form").addEventListener("submit", check);
