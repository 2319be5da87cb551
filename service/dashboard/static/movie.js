// The movie page's one action: hide the movie from recommendations or show it again, through
// PATCH /movies/{id} with the admin token the Models page keeps in this tab's sessionStorage.
"use strict";
(function () {
  const KEY = "cinecluster.adminToken"; // the Models page's key
  const FLASH = "cinecluster.flash";
  const script = document.currentScript;
  const configured = script && script.dataset.configured === "true";
  const card = document.getElementById("visibility");
  const button = document.getElementById("toggle-hidden");
  const message = document.getElementById("visibility-message");
  if (!card || !button) return;
  const token = sessionStorage.getItem(KEY) || "";
  button.disabled = !configured || token === "";

  function say(text, kind) {
    message.textContent = text;
    message.className = "message " + (kind || "info");
    message.hidden = !text;
  }

  // The API answers {error, detail}; this turns an answer into a sentence for people.
  function explain(status, body) {
    const error = (body && body.error) || "";
    if (status === 401) return "The API asks for the admin token: enter it on the Models page.";
    if (status === 403 && error === "Invalid token") return "Refused (403): the token is wrong. Enter it again on the Models page.";
    if (status === 403) return "Refused (403): " + error + ".";
    if (status === 404) return "Not found (404): " + error + ".";
    if (status === 503) return "The service is unavailable (503): " + error + ".";
    return "Failed (" + status + "): " + (error || "unexpected answer") + ".";
  }

  button.addEventListener("click", async function () {
    const hide = card.dataset.hidden !== "true";
    button.disabled = true;
    say(hide ? "Hiding…" : "Showing again…", "info");
    try {
      const response = await fetch("/movies/" + encodeURIComponent(card.dataset.movie), {
        method: "PATCH",
        headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
        body: JSON.stringify({ hidden: hide }),
      });
      let body = null;
      try {
        body = await response.json();
      } catch (_) {
        body = null;
      }
      if (response.status === 200) {
        sessionStorage.setItem(FLASH, hide ? "Hidden: no recommendation list contains this movie any more." : "Shown again: it is recommended as usual.");
        window.location.reload();
        return;
      }
      say(explain(response.status, body), "error");
    } catch (error) {
      say("The request did not reach the service: " + error.message + ".", "error");
    }
    button.disabled = false;
  });

  const flash = sessionStorage.getItem(FLASH);
  if (flash) {
    sessionStorage.removeItem(FLASH);
    say(flash, "success");
  }
})();
