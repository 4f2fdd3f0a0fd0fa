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

  // Omni video: thumbnails of the chosen reference pictures; a click puts that picture's
  // token (<<<image_N>>>) into the prompt last written in (the main one or a shot's).
  var lastPrompt = null;
  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (el instanceof HTMLTextAreaElement && (el.id === "id_prompt" || el.classList.contains("shot-prompt"))) {
      lastPrompt = el;
    }
  });

  function insertToken(token) {
    var target = lastPrompt || document.getElementById("id_prompt");
    if (!target) return;
    var start = target.selectionStart != null ? target.selectionStart : target.value.length;
    var end = target.selectionEnd != null ? target.selectionEnd : start;
    target.value = target.value.slice(0, start) + token + target.value.slice(end);
    target.focus();
    target.selectionStart = target.selectionEnd = start + token.length;
    target.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("change", function (event) {
    var box = document.querySelector("[data-tokens-for]");
    var input = event.target;
    if (!box || !(input instanceof HTMLInputElement) || input.id !== box.dataset.tokensFor) return;
    var thumbs = box.querySelector(".thumbs");
    thumbs.textContent = "";
    // A result picture chosen on its own page is image_1; uploads then follow it.
    var first = parseInt(box.dataset.tokenStart || "1", 10);
    Array.prototype.forEach.call(input.files || [], function (file, i) {
      var img = document.createElement("img");
      img.src = URL.createObjectURL(file);
      img.alt = "Reference picture " + (i + first);
      img.width = 72;
      thumbs.appendChild(tokenButton("<<<image_" + (i + first) + ">>>", img));
    });
    box.hidden = !thumbs.children.length;
  });

  // A thumbnail that puts its reference token (<<<image_2>>>, <<<video_1>>>) into the prompt
  // when clicked (the click listener below serves every [data-insert-token]).
  function tokenButton(token, media) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "thumb-token";
    button.dataset.insertToken = token;
    button.title = "Insert " + token;
    var label = document.createElement("span");
    label.className = "small";
    label.textContent = token.replace(/[<>]/g, "");
    button.appendChild(media);
    button.appendChild(label);
    return button;
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("[data-insert-token]");
    if (button) insertToken(button.dataset.insertToken);
  });

  // Omni video's reference video: a thumbnail of the chosen file that puts <<<video_1>>>
  // into the prompt, like the pictures' thumbnails.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.dataset.videoToken) return;
    var box = document.querySelector('[data-video-token-for="' + input.id + '"]');
    if (!box) return;
    var thumbs = box.querySelector(".thumbs");
    thumbs.textContent = "";
    var file = input.files && input.files[0];
    if (file) {
      var video = document.createElement("video");
      video.src = URL.createObjectURL(file);
      video.muted = true;
      video.preload = "metadata";
      video.width = 96;
      thumbs.appendChild(tokenButton(input.dataset.videoToken, video));
    }
    box.hidden = !thumbs.children.length;
  });

  // Omni video storyboard: rows of prompt and seconds, kept as JSON in the hidden field
  // the server reads (multi_prompt); shown only while "several shots" is ticked.
  function setupStoryboard(board) {
    var store = document.getElementById(board.dataset.storyboard);
    var toggle = document.getElementById(board.dataset.toggle);
    var list = board.querySelector("#storyboard-shots");
    if (!store || !list) return;

    function save() {
      var shots = [];
      var total = 0;
      list.querySelectorAll("li").forEach(function (row) {
        var seconds = parseInt(row.querySelector(".shot-duration").value, 10) || 0;
        total += seconds;
        shots.push({ prompt: row.querySelector(".shot-prompt").value, duration: seconds });
      });
      store.value = toggle && toggle.checked ? JSON.stringify(shots) : "";
      var duration = document.getElementById(board.dataset.duration);
      board.querySelector("#storyboard-total").textContent = total;
      board.querySelector("#storyboard-target").textContent = duration ? duration.value : "?";
    }

    function addShot(prompt, seconds) {
      var row = document.createElement("li");
      row.className = "shot stack";
      var number = list.children.length + 1;
      row.innerHTML =
        '<label>Shot <span class="shot-number"></span> prompt<textarea class="shot-prompt" rows="2" maxlength="512"></textarea></label>' +
        '<label>Seconds <input class="shot-duration" type="number" min="1" max="10" step="1"></label>' +
        '<button type="button" class="btn btn-small shot-remove">Remove</button>';
      row.querySelector(".shot-number").textContent = number;
      row.querySelector(".shot-prompt").value = prompt || "";
      row.querySelector(".shot-duration").value = seconds || 2;
      row.querySelector(".shot-remove").addEventListener("click", function () {
        row.remove();
        list.querySelectorAll(".shot-number").forEach(function (el, i) { el.textContent = i + 1; });
        save();
      });
      list.appendChild(row);
      save();
    }

    var existing = [];
    try { existing = JSON.parse(store.value || "[]"); } catch (e) { existing = []; }
    existing.forEach(function (shot) { addShot(shot.prompt, shot.duration); });
    if (!existing.length) { addShot("", 2); addShot("", 3); }
    board.querySelector("#storyboard-add").addEventListener("click", function () {
      if (list.children.length < 6) addShot("", 1);
    });
    board.addEventListener("input", save);
    document.addEventListener("change", save);
    function showOrHide() {
      var on = !toggle || toggle.checked;
      list.parentNode.querySelectorAll("#storyboard-shots, #storyboard-add, p").forEach(function (el) {
        el.hidden = !on;
      });
      save();
    }
    if (toggle) toggle.addEventListener("change", showOrHide);
    showOrHide();
    var form = board.closest("form");
    if (form) form.addEventListener("submit", save, true);
  }
  document.querySelectorAll("[data-storyboard]").forEach(setupStoryboard);

  // Parts of a create page only some models take (data-models="name other"), such as omni
  // video's storyboard: hidden while another model is chosen, and an input among them is
  // unticked and disabled, so it is not sent. The model menu sits in the options card,
  // which is drawn again on every change, so the change is caught here, on the document.
  function fitToModel() {
    var select = document.querySelector("select[name=model_name]");
    if (!select) return;
    document.querySelectorAll("[data-models]").forEach(function (el) {
      var on = el.dataset.models.split(" ").indexOf(select.value) !== -1;
      if (!(el instanceof HTMLInputElement)) {
        el.hidden = !on;
        return;
      }
      (el.closest(".field") || el).hidden = !on;
      el.disabled = !on;
      if (!on && el.checked) {
        el.checked = false;
        el.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target instanceof HTMLSelectElement && event.target.name === "model_name") fitToModel();
  });
  fitToModel();

  // The footer's language menu applies the choice at once (a button stands in without script).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.requestSubmit(); });
  });

  // A box that scrolls sideways (a wide table, a long line of code on a phone) can be
  // scrolled from the keyboard too: it joins the tab order while, and only while, it scrolls.
  function keyboardScroll(root) {
    root.querySelectorAll(".table-wrap, pre").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        if (!box.hasAttribute("tabindex")) { box.tabIndex = 0; box.dataset.scrollTab = "1"; }
      } else if (box.dataset.scrollTab) {
        box.removeAttribute("tabindex");
        delete box.dataset.scrollTab;
      }
    });
  }
  keyboardScroll(document);
  window.addEventListener("resize", function () { keyboardScroll(document); });

  // Live status (a generation's page polls its state): each new state is read out by
  // screen readers through one polite region that stays on the page, and the tab's title
  // shows the progress so it can be followed from another tab.
  var announcer = document.getElementById("live-announcer");
  var baseTitle = document.title;
  function followLiveStatus(root) {
    var box = root.matches && root.matches("[data-announce]") ? root : root.querySelector("[data-announce]");
    if (!box) return;
    var text = box.dataset.announce;
    if (announcer && text && announcer.dataset.last !== text) {
      announcer.textContent = text;
      announcer.dataset.last = text;
    }
    if (box.dataset.titlePrefix !== undefined) {
      document.title = box.dataset.titlePrefix ? box.dataset.titlePrefix + " " + baseTitle : baseTitle;
    }
  }
  if (announcer) announcer.dataset.last = (document.querySelector("[data-announce]") || { dataset: {} }).dataset.announce || "";
  var first = document.querySelector("[data-title-prefix]");
  if (first) followLiveStatus(first);
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.elt;
    if (!(target instanceof Element)) return;
    keyboardScroll(target.parentNode || document);
    followLiveStatus(target);
  });

  // Toasts (the pulse's "your video is ready"): the newest few stay, each closes with its
  // button or with Escape while it has the focus, and the focus then goes back to the page.
  var MAX_TOASTS = 3;
  function dismissToast(toast) {
    var hadFocus = toast.contains(document.activeElement);
    toast.remove();
    if (hadFocus) {
      var main = document.getElementById("main");
      if (main) main.focus();
    }
  }
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("[data-dismiss-toast]");
    if (button) dismissToast(button.closest("[data-toast]"));
  });
  document.addEventListener("keydown", function (event) {
    var toast = event.key === "Escape" && event.target instanceof Element && event.target.closest("[data-toast]");
    if (toast) dismissToast(toast);
  });
  var toasts = document.getElementById("toasts");
  if (toasts) {
    new MutationObserver(function () {
      var all = toasts.querySelectorAll("[data-toast]");
      for (var i = 0; i < all.length - MAX_TOASTS; i++) all[i].remove();
    }).observe(toasts, { childList: true });
  }

  // Result pictures open in a viewer (templates/generations/_viewer.html): a click, or Enter
  // on a thumbnail, opens it; the arrows move between pictures, Escape closes it (a native
  // dialog), and the focus goes back to the thumbnail of the picture last shown.
  var viewer = document.getElementById("viewer");
  if (viewer && typeof viewer.showModal === "function") {
    var viewerLinks = [];
    var viewerIndex = 0;
    var showPicture = function (index) {
      viewerIndex = (index + viewerLinks.length) % viewerLinks.length;
      var link = viewerLinks[viewerIndex];
      var thumb = link.querySelector("img");
      var caption = link.querySelector(".caption");
      var image = document.getElementById("viewer-image");
      image.src = link.getAttribute("href");
      image.alt = thumb ? thumb.alt : "";
      document.getElementById("viewer-caption").textContent = caption ? caption.textContent.trim() : "";
      viewer.querySelectorAll("[data-viewer-step]").forEach(function (button) {
        button.hidden = viewerLinks.length < 2;
      });
    };
    document.addEventListener("click", function (event) {
      var link = event.target instanceof Element && event.target.closest("#result-images a.gallery-item");
      if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      viewerLinks = Array.prototype.slice.call(document.querySelectorAll("#result-images a.gallery-item"));
      showPicture(viewerLinks.indexOf(link));
      viewer.showModal();
    });
    viewer.addEventListener("keydown", function (event) {
      var step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
      if (event.key === "Home") step = -viewerIndex;
      if (event.key === "End") step = viewerLinks.length - 1 - viewerIndex;
      if (step === undefined || !viewerLinks.length) return;
      event.preventDefault();
      showPicture(viewerIndex + step);
    });
    viewer.addEventListener("click", function (event) {
      var target = event.target instanceof Element ? event.target : null;
      if (!target) return;
      var step = target.closest("[data-viewer-step]");
      if (step) showPicture(viewerIndex + parseInt(step.dataset.viewerStep, 10));
      // A click on the backdrop (outside the dialog's box) closes it too.
      if (target === viewer || target.closest("[data-viewer-close]")) viewer.close();
    });
    viewer.addEventListener("close", function () {
      var link = viewerLinks[viewerIndex];
      if (link && document.contains(link)) link.focus();
    });
  }

  // The video player from the keyboard, on top of the browser's own controls: K plays and
  // pauses (Space does already), the arrows move 5 seconds, M mutes, F toggles full screen.
  document.addEventListener("keydown", function (event) {
    var video = event.target;
    if (!(video instanceof HTMLVideoElement) || !video.closest(".media-frame")) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (key === "ArrowRight" || key === "ArrowLeft") {
      var end = isFinite(video.duration) ? video.duration : video.currentTime + 5;
      video.currentTime = Math.min(end, Math.max(0, video.currentTime + (key === "ArrowRight" ? 5 : -5)));
    } else if (key === "k") {
      if (video.paused) {
        var playing = video.play();
        if (playing) playing.catch(function () {});
      } else {
        video.pause();
      }
    } else if (key === "m") {
      video.muted = !video.muted;
    } else if (key === "f") {
      if (document.fullscreenElement) document.exitFullscreen();
      else if (video.requestFullscreen) video.requestFullscreen().catch(function () {});
    } else {
      return;
    }
    event.preventDefault();
  });

  // Each result video says its keys, under it and to screen readers.
  function describePlayers() {
    var hint = document.getElementById("player-keys");
    if (!hint) return;
    document.querySelectorAll(".media-frame video").forEach(function (video, i) {
      var frame = video.closest(".media-frame");
      if (video.hasAttribute("aria-describedby")) return;
      var shown = hint.cloneNode(true);
      shown.id = "player-keys-" + (i + 1);
      shown.hidden = false;
      frame.after(shown);
      video.setAttribute("aria-describedby", shown.id);
      video.setAttribute("aria-keyshortcuts", "K M F ArrowLeft ArrowRight");
    });
  }
  describePlayers();
  document.addEventListener("htmx:afterSettle", describePlayers);

  // Close the phone menu with Escape.
  document.addEventListener("keydown", function (event) {
    var toggle = document.getElementById("nav-toggle");
    if (event.key === "Escape" && toggle && toggle.checked) toggle.checked = false;
  });
})();
