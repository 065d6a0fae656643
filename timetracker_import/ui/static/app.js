// timetracker-import ui: the little script the pages use (no libraries, nothing remote).
// Every page works without it; it adds the live preview, the live progress and small
// conveniences.
"use strict";

function csrfToken() {
  return document.body.dataset.csrf;
}

// Mapping page: a live preview of the first rows whenever the form changes.
function setupMapping() {
  const form = document.getElementById("mapping");
  const target = document.getElementById("preview");
  if (!form || !target) return;
  let timer = null;
  let sequence = 0;
  const refresh = () => {
    const mine = ++sequence;
    const body = new URLSearchParams(new FormData(form));
    body.delete("action");
    fetch("/mapping/preview", {
      method: "POST",
      headers: { "X-CSRF-Token": csrfToken() },
      body: body,
      credentials: "same-origin",
    })
      .then((r) => r.text())
      .then((html) => {
        if (mine === sequence) {
          target.innerHTML = html;
          target.dataset.updated = String(mine);
        }
      })
      .catch(() => {
        target.textContent = "The preview could not be loaded: is the app still running?";
      });
  };
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  };
  form.addEventListener("change", (ev) => {
    const el = ev.target;
    if (el.closest && el.closest("#mapping-form")) {
      const own = document.getElementById("source-form");
      if (own) own.checked = true;
    }
    if (el.name === "other_preset") {
      const other = document.getElementById("src-other");
      if (other) other.checked = true;
    }
    if (el.name === "saved_name") {
      const saved = document.getElementById("src-saved");
      if (saved) saved.checked = true;
    }
    if (el.name === "save_name" || el.name === "replace") return;
    later();
  });
  form.addEventListener("input", (ev) => {
    if (ev.target.name === "save_name") return;
    if (ev.target.tagName === "TEXTAREA" || (ev.target.tagName === "INPUT" && ev.target.type !== "checkbox")) later();
  });
}

// Validate page: the problem filter applies as soon as it is chosen.
function setupFilter() {
  const filter = document.getElementById("kind-filter");
  if (!filter || !filter.form) return;
  filter.addEventListener("change", () => filter.form.submit());
}

// Progress page: live progress from server-sent events; the page moves on when it is done.
function setupProgress() {
  const bar = document.getElementById("progress");
  if (!bar) return;
  const label = document.getElementById("progress-text");
  const source = new EventSource(bar.dataset.events);
  const show = (data) => {
    if (data.total) {
      bar.max = Math.max(data.total, 1);
      bar.value = data.done;
      label.textContent = data.done.toLocaleString() + " of " + data.total.toLocaleString() + " " + (data.unit || "rows sent");
    } else {
      bar.removeAttribute("value");
      label.textContent = data.phase + "… (" + Math.round(data.elapsed) + " s)";
    }
  };
  source.addEventListener("progress", (ev) => show(JSON.parse(ev.data)));
  source.addEventListener("confirm", () => {
    source.close();
    window.location.reload();
  });
  source.addEventListener("done", (ev) => {
    source.close();
    window.location.assign(JSON.parse(ev.data).url);
  });
  source.onerror = () => {
    label.textContent = "Lost the connection to the app; reload this page.";
  };
}

document.addEventListener("DOMContentLoaded", () => {
  setupMapping();
  setupFilter();
  setupProgress();
});
