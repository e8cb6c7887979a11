// Progressive enhancement of the reply form: post with fetch, show field errors inline,
// show the outcome without leaving the page. Without JavaScript the form posts normally.
(function () {
  "use strict";
  const form = document.getElementById("commentform");
  if (!form || !window.fetch) return;
  const status = document.getElementById("form-status");
  const list = document.getElementById("comment-list");
  const count = document.getElementById("comment-count");
  const remember = document.getElementById("wp-comment-cookies-consent");
  const saved = ["author", "email", "url"];

  // "Save my name": restore what the reader chose to keep.
  try {
    const kept = JSON.parse(localStorage.getItem("comment-author") || "null");
    if (kept) {
      saved.forEach((name) => { if (kept[name]) form.elements[name].value = kept[name]; });
      remember.checked = true;
    }
  } catch (e) { /* storage unavailable */ }

  function clearErrors() {
    form.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
    status.textContent = "";
    status.className = "";
  }

  function addComment(author, text, id) {
    const item = document.createElement("div");
    item.className = "comment";
    item.id = `comment-${id}`;
    const who = document.createElement("div");
    who.className = "who";
    who.textContent = author;            // text, never HTML
    const body = document.createElement("div");
    body.className = "text";
    body.textContent = text;
    item.append(who, body);
    list.append(item);
    count.textContent = String(Number(count.textContent) + 1);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const button = document.getElementById("comment-submit");
    button.disabled = true;
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "Accept": "application/json" },
        credentials: "same-origin",
      });
    } catch (e) {
      // The network failed before an answer: fall back to the plain form post.
      HTMLFormElement.prototype.submit.call(form);
      return;
    }
    try {
      const data = await response.json().catch(() => ({}));
      if (response.status === 422 && data.errors) {
        data.errors.forEach((e) => {
          const slot = form.querySelector(`.field-error[data-for="${e.field}"]`);
          if (slot) slot.textContent = e.message; else status.textContent = e.message;
        });
        status.className = "notice";
        if (!status.textContent) status.textContent = data.message;
        return;
      }
      if (!response.ok) {
        status.textContent = data.message || `Error ${response.status}`;
        status.className = "notice";
        return;
      }
      try {
        if (remember.checked) {
          const kept = {};
          saved.forEach((name) => { kept[name] = form.elements[name].value; });
          localStorage.setItem("comment-author", JSON.stringify(kept));
        } else {
          localStorage.removeItem("comment-author");
        }
      } catch (e) { /* storage blocked or full: the comment was sent all the same */ }
      if (data.status === "approved") {
        addComment(form.elements.author.value, form.elements.comment.value, data.id);
        status.textContent = "Your comment has been published.";
        status.className = "notice published";
      } else {
        status.textContent = data.message;   // "Your comment is awaiting moderation." or refusal
        status.className = "notice";
      }
      form.elements.comment.value = "";
    } finally {
      button.disabled = false;
    }
  });
  document.body.dataset.ready = "1";
})();
