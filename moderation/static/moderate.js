// Keyboard-driven review queue. Every action on the page is also a plain HTML form (the page
// works without JavaScript); here decisions go to the JSON API with the session cookie and the
// CSRF token instead, without a reload. Each carries the version the page was rendered with,
// so a stale page gets 409; changing an already decided comment needs the reason typed in the
// card's "Reason or note" field.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const queue = document.getElementById("queue");
  const status = document.getElementById("status");
  const count = document.getElementById("count");
  const undoStack = [];
  let current = 0;

  const items = () => Array.from(queue.querySelectorAll("article.item"));

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  function focus(index) {
    const all = items();
    if (!all.length) { current = 0; return; }
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((el, i) => el.classList.toggle("current", i === current));
    all[current].focus({ preventScroll: false });
    all[current].scrollIntoView({ block: "nearest" });
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    return { ok: response.ok, status: response.status, data };
  }

  function message(data, code) {
    if (data.errors && data.errors.length) return data.errors.map((e) => e.message).join(" ");
    return data.message || "error " + code;
  }

  async function decide(el, action) {
    const id = el.dataset.id;
    const reasonField = el.querySelector("input.reason");
    const body = { action, version: Number(el.dataset.version) };
    if (reasonField && reasonField.value.trim()) body.reason = reasonField.value.trim();
    const result = await post(`/api/v1/reviews/${id}/decision`, body);
    if (!result.ok) {
      say(`Comment ${id}: ${message(result.data, result.status)}`, true);
      if (reasonField && result.status === 422) reasonField.focus();
      return false;
    }
    undoStack.push({ id, decision: result.data.decision_id });
    const index = items().indexOf(el);
    const wasPending = el.dataset.status === "pending";
    el.remove();
    if (wasPending) count.textContent = String(Math.max(0, Number(count.textContent) - 1));
    say(`Comment ${id}: ${result.data.item.status}`);
    focus(index);
    return true;
  }

  async function decideSelected(action) {
    const selected = items().filter((el) => el.querySelector(".select").checked);
    if (!selected.length) { say("Nothing selected (x selects).", true); return; }
    const result = await post("/api/v1/reviews/bulk", { ids: selected.map((el) => Number(el.dataset.id)), action });
    if (!result.ok) { say(message(result.data, result.status), true); return; }
    let done = 0;
    let pending = 0;
    for (const r of result.data.results) {
      if (r.ok) {
        const el = document.getElementById(`item-${r.comment_id}`);
        if (el) {
          if (el.dataset.status === "pending") pending += 1;
          el.remove();
          done += 1;
        }
      }
    }
    count.textContent = String(Math.max(0, Number(count.textContent) - pending));
    say(`${done} of ${selected.length} decided.`);
    focus(current);
  }

  async function undo() {
    const last = undoStack.pop();
    if (!last) { say("Nothing to undo.", true); return; }
    const id = last.id;
    // Undo exactly the decision made here: if someone decided since, the server says 409.
    const result = await post(`/api/v1/reviews/${id}/undo`, { decision_id: last.decision });
    say(result.ok ? `Comment ${id} is back in the queue (reload to see it).` : message(result.data, result.status), !result.ok);
  }

  const actions = { a: "approve", s: "reject_spam", r: "reject_abuse", h: "hold" };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName) && event.target.type !== "checkbox") return;
    const el = items()[current];
    if (event.key === "j" || event.key === "ArrowDown") { focus(current + 1); event.preventDefault(); }
    else if (event.key === "k" || event.key === "ArrowUp") { focus(current - 1); event.preventDefault(); }
    else if (event.key in actions && el) { decide(el, actions[event.key]); event.preventDefault(); }
    else if (["A", "S", "R"].includes(event.key)) { decideSelected(actions[event.key.toLowerCase()]); event.preventDefault(); }
    else if (event.key === "x" && el) { const box = el.querySelector(".select"); box.checked = !box.checked; el.classList.toggle("selected", box.checked); }
    else if (event.key === "u") { undo(); }
  });

  queue.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    event.preventDefault();  // the form would post and reload; decide in place instead
    const el = button.closest("article.item");
    focus(items().indexOf(el));
    decide(el, button.dataset.action);
  });
  queue.addEventListener("change", (event) => {
    if (event.target.classList.contains("select")) {
      event.target.closest("article.item").classList.toggle("selected", event.target.checked);
    }
  });

  focus(0);
  document.body.dataset.ready = "1";  // keyboard handling is live
})();
