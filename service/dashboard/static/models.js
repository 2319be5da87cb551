// The models page's actions: the admin token is typed once, kept in sessionStorage (this tab,
// this browser session only) and sent as the bearer header to the API's own admin endpoints.
"use strict";
(function () {
  const KEY = "cinecluster.adminToken";
  const FLASH = "cinecluster.flash";
  const POLL_MS = 2000;
  const script = document.currentScript;
  const configured = script && script.dataset.configured === "true";
  const message = document.getElementById("action-message");
  const hint = document.getElementById("action-hint");
  const state = document.getElementById("token-state");
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  const actions = () => Array.from(document.querySelectorAll("[data-action]"));
  let busy = false;

  function token() {
    return sessionStorage.getItem(KEY) || "";
  }

  function say(text, kind) {
    message.textContent = text;
    message.className = "message " + (kind || "info");
    message.hidden = !text;
  }

  function refresh() {
    const enabled = configured && token() !== "" && !busy;
    for (const button of actions()) button.disabled = !enabled;
    if (!configured) return;
    if (token() === "") {
      hint.textContent = "Disabled: enter the admin token above to enable the actions.";
      state.textContent = "No token entered: the actions are disabled.";
    } else {
      hint.textContent = busy ? "Waiting for the answer…" : "The token is sent with each action.";
      state.textContent = "A token is kept for this browser tab until you forget it or close the tab.";
    }
  }

  // The API answers {error, detail}; this turns an answer into a sentence for people.
  function explain(status, body) {
    const error = (body && body.error) || "";
    const detail = body && typeof body.detail === "string" ? body.detail : "";
    if (status === 401) return "The API asks for the admin token: enter it above.";
    if (status === 403 && error === "Invalid token") return "Refused (403): the token is wrong. Check it and enter it again.";
    if (status === 403) return "Refused (403): " + error + (detail ? ": " + detail : "") + ".";
    if (status === 409) return "Not started (409): " + (error || "a recluster run is already in progress") + (detail ? " – " + detail : "") + ". Wait until it has finished.";
    if (status === 404) return "Not found (404): " + error + ".";
    if (status === 503) return "The service is unavailable (503): " + (detail || error) + ".";
    return "Failed (" + status + "): " + (error || "unexpected answer") + (detail ? ": " + detail : "") + ".";
  }

  async function post(url) {
    const response = await fetch(url, { method: "POST", headers: { Authorization: "Bearer " + token() } });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    return { status: response.status, body: body };
  }

  function reloadWith(text) {
    sessionStorage.setItem(FLASH, text);
    window.location.reload();
  }

  async function act(run) {
    busy = true;
    refresh();
    try {
      await run();
    } catch (error) {
      say("The request did not reach the service: " + error.message + ".", "error");
    } finally {
      busy = false;
      refresh();
    }
  }

  async function activate(version) {
    say("Activating version " + version + "…", "info");
    const answer = await post("/models/" + encodeURIComponent(version) + "/activate");
    if (answer.status === 200) reloadWith("Version " + version + " is active now: the API serves it.");
    else say(explain(answer.status, answer.body), "error");
  }

  async function recluster() {
    say("Requesting a recluster run…", "info");
    const answer = await post("/admin/recluster");
    if (answer.status !== 202) {
      say(explain(answer.status, answer.body), "error");
      return;
    }
    const runId = answer.body.runId;
    let text = "Run " + runId + " " + (answer.body.status || "requested") + ".";
    if (answer.body.warning) text += " Warning: " + answer.body.warning;
    say(text + " Progress is shown below.", answer.body.warning ? "warning" : "info");
    watch(runId);
  }

  // Reload the runs table until the run has finished, then the page (a new version is active).
  function watch(runId) {
    const runs = document.getElementById("runs");
    const tick = async function () {
      try {
        const response = await fetch("/dashboard/models/runs", { headers: { Accept: "text/html" } });
        if (response.ok) runs.innerHTML = await response.text();
      } catch (_) {
        // the next tick tries again
      }
      const row = runs.querySelector(runId ? '[data-run="' + runId + '"]' : "[data-status=running],[data-status=requested]");
      const status = row ? row.dataset.status : "";
      if (status === "succeeded") {
        reloadWith("Run " + runId + " succeeded: the new version is active.");
      } else if (status === "failed") {
        say("Run " + runId + " failed: " + (row.querySelector(".note").textContent || "see the runs table") + ".", "error");
      } else if (runId || status) {
        setTimeout(tick, POLL_MS);
      } else {
        reloadWith("The run in progress has finished.");
      }
    };
    setTimeout(tick, POLL_MS);
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const value = input.value.trim();
      if (value) sessionStorage.setItem(KEY, value);
      input.value = "";
      say("", "info");
      refresh();
    });
    document.getElementById("forget-token").addEventListener("click", function () {
      sessionStorage.removeItem(KEY);
      say("", "info");
      refresh();
    });
  }
  for (const button of actions()) {
    button.addEventListener("click", function () {
      if (button.dataset.action === "activate") act(() => activate(button.dataset.version));
      else act(recluster);
    });
  }
  const flash = sessionStorage.getItem(FLASH);
  if (flash) {
    sessionStorage.removeItem(FLASH);
    say(flash, "success");
  }
  const runs = document.getElementById("runs");
  if (runs && runs.dataset.inProgress === "true") watch(null);
  refresh();
})();
