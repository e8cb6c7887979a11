// Progressive enhancement of the reply form, as WordPress's comment-reply.js and a fetch post:
// reply links move the form under the comment, field errors show inline, the outcome shows
// without leaving the page (a held comment as a preview where it will appear, a refused one
// with its text still in the form). Without JavaScript the same page works with plain links
// (?replytocom=) and a plain form post; "save my name" is the server's cookie either way.
(function () {
  "use strict";
  const form = document.getElementById("commentform");
  if (!form || !window.fetch) return;
  const respond = document.getElementById("respond");
  const status = document.getElementById("form-status");
  const list = document.getElementById("comment-list");
  const count = document.getElementById("comment-count");
  const noun = document.getElementById("comment-noun");
  const parentField = document.getElementById("comment_parent");
  const replyName = document.getElementById("reply-to-name");
  const cancel = document.getElementById("cancel-comment-reply-link");
  const home = document.createComment("respond");   // where the form goes back to
  respond.before(home);
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];

  // An older version kept the author in localStorage; the server's cookie does it now.
  try { localStorage.removeItem("comment-author"); } catch (e) { /* storage unavailable */ }

  function when(date) {  // as the server writes it: "30 November 2026 at 14:05 UTC"
    const two = (n) => String(n).padStart(2, "0");
    return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} at ` +
      `${two(date.getUTCHours())}:${two(date.getUTCMinutes())} UTC`;
  }

  function replyTo(id, author) {
    const comment = document.getElementById(`comment-${id}`);
    if (!comment) return;
    parentField.value = String(id);
    replyName.textContent = ` to ${author}`;      // text, never HTML
    cancel.hidden = false;
    comment.querySelector(":scope > .replies").before(respond);
    form.elements.comment.focus();
  }

  function cancelReply() {
    parentField.value = "0";
    replyName.textContent = "";
    cancel.hidden = true;
    home.after(respond);
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.reply-link");
    if (link) {
      event.preventDefault();
      replyTo(link.dataset.id, link.dataset.author);
    } else if (event.target === cancel) {
      event.preventDefault();
      cancelReply();
    }
  });
  // The page opened with ?replytocom=: the same, with the form where the reader clicked.
  if (parentField.value !== "0") {
    const link = document.querySelector(`a.reply-link[data-id="${CSS.escape(parentField.value)}"]`);
    if (link) replyTo(link.dataset.id, link.dataset.author);
  }

  function clearErrors() {
    form.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
    status.textContent = "";
    status.className = "";
  }

  function setCount(n) {
    count.textContent = String(n);
    noun.textContent = n === 1 ? "comment" : "comments";
  }

  // The comment as the page shows it, built as text (never HTML).
  function addComment({ id, author, text, parentId, pending }) {
    const item = document.createElement("div");
    item.className = pending ? "comment pending" : "comment";
    item.id = `comment-${id}`;
    const meta = document.createElement("div");
    meta.className = "meta";
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = author;
    const stamp = document.createElement(pending ? "span" : "a");
    stamp.className = "when";
    if (!pending) stamp.href = `#comment-${id}`;
    const time = document.createElement("time");
    const now = new Date();
    time.dateTime = now.toISOString();
    time.textContent = when(now);
    stamp.append(time);
    meta.append(who, stamp);
    item.append(meta);
    if (pending) {
      item.dataset.pending = "1";
      const note = document.createElement("p");
      note.className = "awaiting";
      note.setAttribute("role", "status");
      const em = document.createElement("em");
      em.textContent = "Your comment is awaiting moderation.";
      note.append(em, " This is a preview; your comment will be visible after it has been approved.");
      item.append(note);
    }
    const body = document.createElement("div");
    body.className = "text";
    body.textContent = text;
    item.append(body);
    const parent = parentId !== "0" && document.getElementById(`comment-${parentId}`);
    const depth = parent ? Number(parent.dataset.depth || 1) + 1 : 1;
    item.dataset.depth = String(depth);
    if (!pending && depth < Number(list.dataset.maxDepth || 10)) {
      const reply = document.createElement("a");
      reply.className = "reply-link";
      reply.href = `?replytocom=${id}#respond`;
      reply.dataset.id = String(id);
      reply.dataset.author = author;
      reply.setAttribute("aria-label", `Reply to ${author}`);
      reply.textContent = "Reply";
      item.append(reply);
    }
    const replies = document.createElement("div");
    replies.className = "replies";
    item.append(replies);
    (parent ? parent.querySelector(":scope > .replies") : list).append(item);
    if (!pending) setCount(Number(count.textContent) + 1);
    return item;
  }

  // Each form token posts one comment: a stored comment (whatever its fate) needs a new one.
  async function freshToken() {
    try {
      const answer = await fetch("/comments/form-token", { credentials: "same-origin" });
      const data = await answer.json();
      const field = form.elements[data.field];
      if (field) field.value = data.token;
    } catch (e) { /* the next post is checked as a bot trap, as without JavaScript */ }
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
        credentials: "same-origin",   // the answer sets (or clears) the "save my name" cookies
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
          const slot = form.querySelector(`.field-error[data-for="${CSS.escape(e.field)}"]`);
          if (slot) slot.textContent = e.message; else status.textContent = e.message;
        });
        status.className = "notice";
        if (!status.textContent) status.textContent = data.message;
        return;
      }
      if (!response.ok) {  // too quick, a duplicate, unavailable: the text stays in the form
        status.textContent = data.message || `Error ${response.status}`;
        status.className = "notice refused";
        return;
      }
      await freshToken();
      if (data.status === "rejected") {
        // As without JavaScript: the message, and the text kept to be changed and sent again.
        status.textContent = data.message;
        status.className = "notice refused";
        form.elements.comment.focus();
        return;
      }
      const shown = {
        id: data.id,
        author: form.elements.author.value,
        text: form.elements.comment.value,
        parentId: parentField.value,
        pending: data.status !== "approved",
      };
      cancelReply();
      const item = addComment(shown);
      status.textContent = data.status === "approved"
        ? "Your comment has been published." : data.message;
      status.className = data.status === "approved" ? "notice published" : "notice";
      form.elements.comment.value = "";
      item.scrollIntoView({ block: "nearest" });
    } finally {
      button.disabled = false;
    }
  });
  document.body.dataset.ready = "1";
})();
