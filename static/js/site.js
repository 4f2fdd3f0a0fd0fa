// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // One click, one submission: a second click on a POST form that is already on its way
  // is ignored (the server is idempotent anyway, but a double charge prompt is confusing).
  // The button is not disabled during the submit event, because a disabled submitter
  // would drop its name=value from the request (allauth's email page relies on it).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !(form instanceof HTMLFormElement)) return;
    if ((form.getAttribute("method") || "get").toLowerCase() !== "post") return;
    if (form.hasAttribute("data-allow-resubmit") || form.target === "_blank") return;
    if (form.dataset.submitting === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "1";
    var button = event.submitter || form.querySelector("[type=submit]");
    if (button && button.classList.contains("btn")) {
      button.classList.add("is-busy");
      button.setAttribute("aria-disabled", "true");
    }
    // A download or a slow answer should not lock the form for good.
    window.setTimeout(function () { release(form); }, 10000);
  });

  function release(form) {
    delete form.dataset.submitting;
    form.querySelectorAll(".is-busy").forEach(function (button) {
      button.classList.remove("is-busy");
      button.removeAttribute("aria-disabled");
    });
  }

  // Coming back with the Back button restores the page from the cache as it was left.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) document.querySelectorAll("form[data-submitting]").forEach(release);
  });

  // A video chosen for a kind billed per second: measure its length here, so the price
  // shown follows it (the server measures it again before charging, and never charges
  // more than was shown).
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.dataset.measureInto) return;
    var file = input.files && input.files[0];
    if (!file) return;
    var video = document.createElement("video");
    var url = URL.createObjectURL(file);
    video.preload = "metadata";
    video.onloadedmetadata = function () {
      var target = document.getElementById(input.dataset.measureInto);
      URL.revokeObjectURL(url);
      if (!target || !isFinite(video.duration)) return;
      target.value = video.duration.toFixed(2);
      target.dispatchEvent(new Event("change", { bubbles: true }));
    };
    video.src = url;
  });

  // Close the phone menu with Escape.
  document.addEventListener("keydown", function (event) {
    var toggle = document.getElementById("nav-toggle");
    if (event.key === "Escape" && toggle && toggle.checked) toggle.checked = false;
  });
})();
