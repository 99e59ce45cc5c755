// Sahaya preview page. Customer text is hostile: everything shown goes through
// textContent and never parsed as HTML.
"use strict";

(function () {
  const form = document.getElementById("chat");
  const text = document.getElementById("text");
  const send = document.getElementById("send");
  const log = document.getElementById("log");
  const lang = document.getElementById("lang");
  const formality = document.getElementById("formality");
  const channel = document.getElementById("channel");
  const status = document.getElementById("status");
  let session = newSessionId();

  function newSessionId() {
    if (window.crypto && crypto.randomUUID) return "preview-" + crypto.randomUUID();
    return "preview-" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function el(tag, className, content) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined && content !== null) node.textContent = String(content);
    return node;
  }

  function scrollToEnd(node) {
    if (node.scrollIntoView) node.scrollIntoView({ block: "end" });
  }

  function showUser(message) {
    const li = el("li", "turn user");
    li.appendChild(el("span", "visually-hidden", "You: "));
    li.appendChild(el("p", "user-text", message));
    log.appendChild(li);
    scrollToEnd(li);
  }

  function showError(message) {
    const li = el("li", "turn bot error");
    li.appendChild(el("p", "reply-text", message));
    log.appendChild(li);
    scrollToEnd(li);
  }

  function showReply(reply) {
    const li = el("li", "turn bot");
    li.appendChild(el("span", "visually-hidden", "Sahaya: "));
    li.appendChild(el("p", "reply-text", reply.text));

    const meta = el("ul", "meta");
    meta.setAttribute("aria-label", "Decision");
    const decision = el("li", "decision decision-" + String(reply.decision), reply.decision);
    meta.appendChild(decision);
    meta.appendChild(el("li", "confidence", "confidence " + Number(reply.confidence).toFixed(2)));
    meta.appendChild(el("li", "lang", reply.lang + " · " + reply.formality));
    if (reply.answer_id) meta.appendChild(el("li", "answer-id", reply.answer_id));
    if (reply.after_hours) meta.appendChild(el("li", "after-hours", "after hours"));
    if (Array.isArray(reply.tags) && reply.tags.length > 0) {
      meta.appendChild(el("li", "tags", "tags: " + reply.tags.join(", ")));
    }
    li.appendChild(meta);

    if (reply.escalation) {
      const e = reply.escalation;
      li.appendChild(el("p", "escalation",
        "Escalated by rule " + e.rule + " to queue " + e.queue + " (priority " + e.priority + ")"));
    }

    if (Array.isArray(reply.suggestions) && reply.suggestions.length > 0) {
      const box = el("div", "suggestions");
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", "Suggestions");
      for (const s of reply.suggestions) {
        const b = el("button", "suggestion", s.question);
        b.type = "button";
        b.title = s.id + " · " + Number(s.confidence).toFixed(2);
        b.addEventListener("click", () => ask(s.question));
        box.appendChild(b);
      }
      li.appendChild(box);
    }

    if (reply.decision === "answer" && reply.reply_id) {
      li.appendChild(feedbackButtons(reply.reply_id));
    }

    if (Array.isArray(reply.trace) && reply.trace.length > 0) {
      const details = el("details", "trace");
      details.appendChild(el("summary", null, "Rule trace"));
      const ol = el("ol");
      for (const step of reply.trace) ol.appendChild(el("li", null, step));
      details.appendChild(ol);
      li.appendChild(details);
    }
    log.appendChild(li);
    scrollToEnd(li);
  }

  // 👍/👎 under an answer, sent to /v1/feedback; the buttons then say it was recorded.
  function feedbackButtons(replyId) {
    const box = el("div", "feedback");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Was this answer helpful?");
    const status = el("span", "feedback-status", "");
    for (const [helpful, label, title] of [[true, "👍", "Helpful"], [false, "👎", "Not helpful"]]) {
      const b = el("button", helpful ? "feedback-up" : "feedback-down", label);
      b.type = "button";
      b.title = title;
      b.setAttribute("aria-label", title);
      b.addEventListener("click", async () => {
        for (const other of box.querySelectorAll("button")) other.disabled = true;
        try {
          const res = await fetch("/v1/feedback", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ reply_id: replyId, helpful: helpful }),
          });
          status.textContent = res.ok ? "Thank you" : "Feedback not recorded (" + res.status + ")";
        } catch (err) {
          status.textContent = "Feedback not recorded: " + err;
        }
      });
      box.appendChild(b);
    }
    box.appendChild(status);
    return box;
  }

  // The editor view: the content overview from /v1/admin/content, with the admin token.
  async function loadEditorView(token) {
    const status = document.getElementById("editor-status");
    const diagnostics = document.getElementById("editor-diagnostics");
    const table = document.getElementById("editor-topics");
    const body = table.querySelector("tbody");
    status.textContent = "Loading…";
    try {
      const res = await fetch("/v1/admin/content", {
        headers: { "Authorization": "Bearer " + token },
      });
      const data = await res.json().catch(() => null);
      if (!res.ok || !data) {
        const why = data && data.error ? data.error.message : "HTTP " + res.status;
        status.textContent = "Could not load the content: " + why;
        return;
      }
      const t = data.thresholds;
      status.textContent = data.topics.length + " topics · thresholds (answer/clarify): " +
        ["en", "el", "te"].map((l) => l + " " + Number(t[l].answer).toFixed(2) + "/" +
          Number(t[l].clarify).toFixed(2)).join(", ");
      diagnostics.replaceChildren();
      for (const d of data.diagnostics) {
        diagnostics.appendChild(el("li", "diagnostic diagnostic-" + String(d.severity),
          d.path + ":" + d.line + ":" + d.col + ": " + d.severity + ": " + d.message));
      }
      if (data.diagnostics.length === 0) {
        diagnostics.appendChild(el("li", "diagnostic", "sahaya check: all content is valid"));
      }
      body.replaceChildren();
      for (const topic of data.topics) {
        const row = el("tr");
        const id = el("th", null, topic.id);
        id.title = topic.path;
        row.appendChild(id);
        for (const l of ["en", "el", "te"]) {
          const x = topic.langs[l];
          const cell = el("td", null, x.alternates + " alt · " + x.registers.join("+"));
          cell.title = x.question;
          row.appendChild(cell);
        }
        body.appendChild(row);
      }
      table.hidden = false;
    } catch (err) {
      status.textContent = "The server cannot be reached: " + err;
    }
  }

  async function ask(message) {
    if (!message.trim()) return;
    showUser(message);
    const body = { text: message, formality: formality.value, channel: channel.value,
                   session_id: session };
    if (lang.value) body.lang = lang.value;
    send.disabled = true;
    try {
      const res = await fetch("/v1/respond", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const data = await res.json().catch(() => null);
      if (res.ok && data) {
        showReply(data);
      } else if (data && data.error) {
        showError("Error " + res.status + " (" + data.error.code + "): " + data.error.message);
      } else {
        showError("Error " + res.status);
      }
    } catch (err) {
      showError("The server cannot be reached: " + err);
    } finally {
      send.disabled = false;
      text.focus();
    }
  }

  async function refreshStatus() {
    try {
      const res = await fetch("/readyz");
      const data = await res.json();
      const c = data.content || {};
      status.textContent = "Content " + (c.version || "?") + " · " + (c.topics || 0) +
        " topics · loaded " + (c.loaded_at || "?") + " · " + data.status;
      const box = document.getElementById("reload-error");
      const list = document.getElementById("reload-error-list");
      list.replaceChildren();
      if (data.reload_error) {
        document.getElementById("reload-error-summary").textContent =
          "The last edit did not load (" + data.reload_error.message +
          "); the previous content is still answering:";
        for (const d of data.reload_error.diagnostics || []) list.appendChild(el("li", null, d));
        box.hidden = false;
      } else {
        box.hidden = true;
      }
    } catch (err) {
      status.textContent = "The server cannot be reached.";
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const message = text.value;
    text.value = "";
    ask(message);
  });
  document.getElementById("editor-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadEditorView(document.getElementById("admin-token").value);
  });
  text.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  document.getElementById("new-session").addEventListener("click", () => {
    session = newSessionId();
    log.replaceChildren();
    text.focus();
  });

  refreshStatus();
  setInterval(refreshStatus, 5000);
})();
