// timetracker-import ui: the little script the pages use (no libraries, nothing remote).
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
      const other = form.querySelector('input[name=source][value=other]');
      if (other) other.checked = true;
    }
    later();
  });
  form.addEventListener("input", (ev) => {
    if (ev.target.tagName === "INPUT" && ev.target.type === "text") later();
  });
}

// Validate page: show only the rejected rows of one problem.
function setupFilter() {
  const filter = document.getElementById("kind-filter");
  const rows = document.querySelectorAll("#rejected tbody tr");
  if (!filter) return;
  filter.addEventListener("change", () => {
    rows.forEach((tr) => {
      tr.hidden = filter.value !== "" && tr.dataset.kind !== filter.value;
    });
  });
}

// Import page: live progress from server-sent events; the page moves on when it is done.
function setupProgress() {
  const bar = document.getElementById("progress");
  if (!bar) return;
  const label = document.getElementById("progress-text");
  const source = new EventSource(bar.dataset.events);
  source.addEventListener("progress", (ev) => {
    const data = JSON.parse(ev.data);
    bar.max = Math.max(data.total, 1);
    bar.value = data.done;
    label.textContent = data.done + " of " + data.total + " rows sent";
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
