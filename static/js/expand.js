// Expand (outpainting) editor: the chosen picture in the middle of a dashed frame whose four
// sides are dragged outwards; the frame and the four number fields (the accessible fallback,
// and what the server reads) always agree. Each side is 0 to data-max-ratio times the
// picture's height (up, down) or width (left, right); all the new area together is at most
// data-max-area times the picture's, as Kling requires. Plain JS, no library.
(function () {
  "use strict";

  var SIDES = ["up", "down", "left", "right"];
  var HANDLE = 9; // half the handle's size, in canvas pixels

  function setup(box) {
    var canvas = box.querySelector("canvas");
    var note = document.getElementById("expand-area");
    var fileInput = document.getElementById(box.dataset.expandFor);
    var maxRatio = parseFloat(box.dataset.maxRatio);
    var maxArea = parseFloat(box.dataset.maxArea);
    var inputs = {};
    SIDES.forEach(function (side) {
      inputs[side] = document.getElementById("id_" + side + "_expansion_ratio");
    });
    if (!canvas || !inputs.up) return;
    var ctx = canvas.getContext("2d");
    var picture = null; // an Image once a file is chosen
    var dragging = null;

    function read() {
      var v = {};
      SIDES.forEach(function (side) {
        var n = parseFloat(inputs[side].value);
        v[side] = isFinite(n) ? n : 0;
      });
      return v;
    }

    function area(v) {
      return (1 + v.left + v.right) * (1 + v.up + v.down) - 1;
    }

    // The most `side` may grow with the other sides as they are.
    function limit(side, v) {
      var most;
      if (side === "up" || side === "down") {
        var other = side === "up" ? v.down : v.up;
        most = (maxArea + 1) / (1 + v.left + v.right) - 1 - other;
      } else {
        var opposite = side === "left" ? v.right : v.left;
        most = (maxArea + 1) / (1 + v.up + v.down) - 1 - opposite;
      }
      return Math.max(0, Math.min(maxRatio, most));
    }

    function problem(v) {
      for (var i = 0; i < SIDES.length; i++) {
        var n = v[SIDES[i]];
        if (n < 0 || n > maxRatio) return "Each side grows by 0 to " + maxRatio + " times the picture.";
      }
      var a = area(v);
      if (a <= 0) return "Extend at least one side.";
      if (a > maxArea + 1e-9) {
        return "These sides add " + a.toFixed(2) + " times the picture's area; at most " + maxArea + " times.";
      }
      return "";
    }

    function geometry(v) {
      // A fixed scale that fits the largest frame any side may reach (2 times on each side).
      var w = picture ? picture.naturalWidth : 4;
      var h = picture ? picture.naturalHeight : 3;
      var span = 1 + 2 * maxRatio;
      var scale = Math.min(canvas.width / (span * w), canvas.height / (span * h));
      var pw = w * scale;
      var ph = h * scale;
      var px = (canvas.width - pw) / 2;
      var py = (canvas.height - ph) / 2;
      return {
        px: px, py: py, pw: pw, ph: ph,
        left: px - v.left * pw, right: px + pw + v.right * pw,
        top: py - v.up * ph, bottom: py + ph + v.down * ph,
      };
    }

    function handles(g) {
      var midX = (g.left + g.right) / 2;
      var midY = (g.top + g.bottom) / 2;
      return { up: [midX, g.top], down: [midX, g.bottom], left: [g.left, midY], right: [g.right, midY] };
    }

    function draw() {
      var v = read();
      var g = geometry(v);
      var styles = getComputedStyle(box);
      var accent = styles.getPropertyValue("--accent").trim() || "#4f46e5";
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.fillStyle = "rgba(127, 127, 127, 0.15)";
      ctx.fillRect(g.left, g.top, g.right - g.left, g.bottom - g.top);
      if (picture) {
        ctx.drawImage(picture, g.px, g.py, g.pw, g.ph);
      } else {
        ctx.fillStyle = "rgba(127, 127, 127, 0.45)";
        ctx.fillRect(g.px, g.py, g.pw, g.ph);
      }
      ctx.setLineDash([6, 4]);
      ctx.strokeStyle = accent;
      ctx.lineWidth = 2;
      ctx.strokeRect(g.left, g.top, g.right - g.left, g.bottom - g.top);
      ctx.setLineDash([]);
      var spots = handles(g);
      ctx.fillStyle = accent;
      SIDES.forEach(function (side) {
        var p = spots[side];
        ctx.fillRect(p[0] - HANDLE, p[1] - HANDLE, 2 * HANDLE, 2 * HANDLE);
      });
      var message = problem(v);
      SIDES.forEach(function (side) { inputs[side].setCustomValidity(message); });
      note.textContent = message || ("New area: " + area(v).toFixed(2) + " times the picture (at most " + maxArea + ").");
      note.style.color = message ? "var(--danger)" : "";
    }

    function set(side, value) {
      var v = read();
      var clamped = Math.min(Math.max(0, value), limit(side, v));
      inputs[side].value = (Math.floor(clamped * 100) / 100).toString();
      inputs[side].dispatchEvent(new Event("input", { bubbles: true }));
    }

    function point(event) {
      var rect = canvas.getBoundingClientRect();
      return [
        (event.clientX - rect.left) * (canvas.width / rect.width),
        (event.clientY - rect.top) * (canvas.height / rect.height),
      ];
    }

    canvas.addEventListener("pointerdown", function (event) {
      var p = point(event);
      var spots = handles(geometry(read()));
      dragging = null;
      SIDES.forEach(function (side) {
        var s = spots[side];
        if (Math.abs(p[0] - s[0]) <= HANDLE * 2 && Math.abs(p[1] - s[1]) <= HANDLE * 2) dragging = side;
      });
      if (dragging) {
        canvas.setPointerCapture(event.pointerId);
        event.preventDefault();
      }
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!dragging) return;
      var p = point(event);
      var g = geometry(read());
      var value = {
        up: (g.py - p[1]) / g.ph,
        down: (p[1] - g.py - g.ph) / g.ph,
        left: (g.px - p[0]) / g.pw,
        right: (p[0] - g.px - g.pw) / g.pw,
      }[dragging];
      set(dragging, value);
    });
    function stop() { dragging = null; }
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);

    SIDES.forEach(function (side) { inputs[side].addEventListener("input", draw); });
    if (fileInput) {
      fileInput.addEventListener("change", function () {
        var file = fileInput.files && fileInput.files[0];
        if (!file) { picture = null; draw(); return; }
        var img = new Image();
        img.onload = function () { picture = img; draw(); };
        img.src = URL.createObjectURL(file);
      });
    }
    draw();
  }

  function start() {
    var box = document.getElementById("expand-editor");
    if (box) setup(box);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
