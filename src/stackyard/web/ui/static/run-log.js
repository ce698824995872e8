// Follows a run's log on /runs/{id}: asks /api/v1/runs/{id}/log-lines for the lines after the last
// one on the page (the page already holds every earlier line, so nothing is fetched twice), once a
// second while the run works. When the run reaches a state with different actions or a result
// (unconfirmed, confirmed, or an end), the page reloads to show them. No build step, no library.
"use strict";

(function () {
  const PAGE = 500;
  const EVERY_MS = 1000;
  const RETRY_MS = 5000;
  const RELOAD_ON = new Set(["unconfirmed", "confirmed", "finished", "failed", "canceled", "discarded"]);

  const log = document.getElementById("log");
  const status = document.getElementById("log-status");
  const badge = document.getElementById("run-state");
  if (!log || !status) {
    return;
  }
  const runId = log.dataset.run;
  const shownState = log.dataset.state;
  let after = Number(log.dataset.after || "0");

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  function append(lines) {
    if (lines.length === 0) {
      return;
    }
    const follow = nearBottom();
    const batch = document.createDocumentFragment();
    for (const entry of lines) {
      if (entry.seq <= after) {
        continue;
      }
      const span = document.createElement("span");
      span.className = "line stream-" + entry.stream;
      span.dataset.seq = String(entry.seq);
      span.textContent = entry.line + "\n";
      batch.appendChild(span);
      after = entry.seq;
    }
    log.appendChild(batch);
    const empty = document.getElementById("log-empty");
    if (empty) {
      empty.remove();
    }
    if (follow) {
      log.scrollTop = log.scrollHeight;
    }
  }

  function showState(state) {
    if (badge && badge.textContent !== state) {
      badge.textContent = state;
      // Only working states get here (the others reload the page): queued waits, the rest are busy.
      badge.className = "state tone-" + (state === "queued" ? "wait" : "busy");
    }
  }

  async function poll() {
    let answer;
    try {
      answer = await fetch(`/api/v1/runs/${runId}/log-lines?after=${after}&limit=${PAGE}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
    } catch (error) {
      status.textContent = "Lost contact with the server; trying again.";
      window.setTimeout(poll, RETRY_MS);
      return;
    }
    if (answer.status === 401) {
      status.textContent = "Your session has ended: reload the page to sign in again.";
      return;
    }
    if (!answer.ok) {
      status.textContent = `The server answered ${answer.status}; trying again.`;
      window.setTimeout(poll, RETRY_MS);
      return;
    }
    const data = await answer.json();
    append(data.lines);
    if (data.state !== shownState) {
      showState(data.state);
      if (RELOAD_ON.has(data.state) && data.lines.length < PAGE) {
        status.textContent = `The run is now ${data.state}; reloading.`;
        window.location.reload();
        return;
      }
    }
    if (data.done && data.lines.length < PAGE) {
      status.textContent = "The run has ended.";
      return;
    }
    status.textContent = "Following the log live.";
    window.setTimeout(poll, data.lines.length >= PAGE ? 0 : EVERY_MS);
  }

  poll();
})();
