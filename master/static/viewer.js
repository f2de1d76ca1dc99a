/* OBSY FITS viewer: places server-rendered tiles, pans and zooms, reads pixels, blinks. No dependencies.
 *
 * The view is a scale (screen pixels per image pixel) and the image coordinate at the viewport's
 * top-left corner. The pyramid level drawn is the coarsest whose pixels are still no bigger than a
 * screen pixel; under it the one-tile top level, stretched over the whole frame, fills the gaps
 * while finer tiles load. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var ZOOM_STEP = 1.25, MAX_SCALE = 32, BLINK_MS = 700, SETTLE_MS = 150, SLIDER_STEPS = 1000;
  var CLICK_PX = 4, PICK_RADIUS_PX = 8;  // screen pixels a click may wander; image pixels to the star picked

  function $(id) { return document.getElementById(id); }

  function Viewer(root) {
    this.root = root;
    this.info = JSON.parse(root.getAttribute("data-info"));
    this.sequence = JSON.parse(root.getAttribute("data-sequence") || "[]");
    this.current = root.getAttribute("data-current");
    this.infos = {};
    this.infos[this.info.key] = this.info;
    this.stars = {};
    this.viewport = $("v-viewport");
    this.layer = $("v-layer");
    this.overlay = $("v-overlay");
    this.tiles = {};
    this.scale = 1; this.ox = 0; this.oy = 0;
    this.stretch = $("v-stretch"); this.levels = $("v-levels"); this.channels = $("v-channels");
    this.black = $("v-black"); this.white = $("v-white");
    this.blackRange = $("v-black-range"); this.whiteRange = $("v-white-range");
    this.histogram = $("v-histogram");
    this.readout = { x: $("v-x"), y: $("v-y"), value: $("v-value"), ra: $("v-ra"), dec: $("v-dec") };
    this.pixelBusy = false; this.pixelNext = null;
    this.bind();
    this.restore();
    this.applyLevels();
    this.render();
  }

  Viewer.prototype.bind = function () {
    var self = this;
    window.addEventListener("resize", function () { self.render(); });
    this.stretch.addEventListener("change", function () { self.drawHistogram(); self.render(); self.remember(); });
    this.levels.addEventListener("change", function () { self.applyLevels(); self.render(); self.remember(); });
    if (this.channels) this.channels.addEventListener("change", function () { self.applyLevels(); self.render(); self.remember(); });
    [this.black, this.white].forEach(function (input) {
      input.addEventListener("change", function () { self.levels.value = "manual"; self.linkChannels(); self.pointsChanged(); });
    });
    [this.blackRange, this.whiteRange].forEach(function (range) {
      range.addEventListener("input", function () {
        var h = self.info.histogram, bin = (h.hi - h.lo) / h.counts.length;
        var value = h.lo + (h.hi - h.lo) * range.value / SLIDER_STEPS;
        // A slider cannot push its point past the other one: keep a histogram bin between them.
        if (range === self.blackRange) self.black.value = round(Math.min(value, self.white.value - bin));
        else self.white.value = round(Math.max(value, +self.black.value + bin));
        self.levels.value = "manual";
        self.linkChannels();
        self.pointsChanged();
      });
    });
    $("v-zoom-in").addEventListener("click", function () { self.zoomAt(ZOOM_STEP, self.viewport.clientWidth / 2, self.viewport.clientHeight / 2); });
    $("v-zoom-out").addEventListener("click", function () { self.zoomAt(1 / ZOOM_STEP, self.viewport.clientWidth / 2, self.viewport.clientHeight / 2); });
    $("v-fit").addEventListener("click", function () { self.fit(); self.render(); self.remember(); });
    $("v-one").addEventListener("click", function () { self.zoomAt(1 / self.scale, self.viewport.clientWidth / 2, self.viewport.clientHeight / 2); });
    $("v-stars").addEventListener("change", function () { self.render(); });
    this.viewport.addEventListener("wheel", function (event) {
      event.preventDefault();
      var box = self.viewport.getBoundingClientRect();
      self.zoomAt(event.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP, event.clientX - box.left, event.clientY - box.top);
    }, { passive: false });
    var drag = null;
    var pressed = null;  // where the button went down: a press that does not move is a click
    this.viewport.addEventListener("pointerdown", function (event) {
      drag = { x: event.clientX, y: event.clientY };
      pressed = { x: event.clientX, y: event.clientY };
      self.viewport.setPointerCapture(event.pointerId);
    });
    this.viewport.addEventListener("pointermove", function (event) {
      var box = self.viewport.getBoundingClientRect();
      if (drag) {
        self.ox -= (event.clientX - drag.x) / self.scale;
        self.oy -= (event.clientY - drag.y) / self.scale;
        drag = { x: event.clientX, y: event.clientY };
        self.render();
      }
      self.readPixel(event.clientX - box.left, event.clientY - box.top);
    });
    this.viewport.addEventListener("pointerup", function (event) {
      drag = null;
      self.remember();
      if (pressed && Math.hypot(event.clientX - pressed.x, event.clientY - pressed.y) < CLICK_PX) {
        var box = self.viewport.getBoundingClientRect();
        self.pick(event.clientX - box.left, event.clientY - box.top);
      }
      pressed = null;
    });
    this.bindPicks();
    var prev = $("v-prev"), next = $("v-next"), blink = $("v-blink");
    if (prev) prev.addEventListener("click", function () { self.step(-1); });
    if (next) next.addEventListener("click", function () { self.step(1); });
    if (blink) blink.addEventListener("click", function () { self.toggleBlink(blink); });
  };

  // ------------------------------------------------------------------ view and tiles

  Viewer.prototype.fit = function () {
    var vw = this.viewport.clientWidth, vh = this.viewport.clientHeight;
    this.scale = Math.min(vw / this.info.width, vh / this.info.height);
    this.ox = (this.info.width - vw / this.scale) / 2;
    this.oy = (this.info.height - vh / this.scale) / 2;
  };

  Viewer.prototype.zoomAt = function (factor, sx, sy) {
    var fitScale = Math.min(this.viewport.clientWidth / this.info.width, this.viewport.clientHeight / this.info.height);
    var scale = Math.max(fitScale / 2, Math.min(MAX_SCALE, this.scale * factor));
    var ix = this.ox + sx / this.scale, iy = this.oy + sy / this.scale;  // the image point under the cursor stays put
    this.scale = scale;
    this.ox = ix - sx / scale;
    this.oy = iy - sy / scale;
    this.render();
    this.remember();
  };

  Viewer.prototype.query = function () {
    var points = this.channelPoints(), black = this.black.value, white = this.white.value;
    if (points) {  // per channel: three comma-separated points each
      black = points.map(function (p) { return round(p[0]); }).join(",");
      white = points.map(function (p) { return round(p[1]); }).join(",");
    }
    return "?stretch=" + this.stretch.value + "&black=" + encodeURIComponent(black) +
      "&white=" + encodeURIComponent(white) + "&v=" + this.info.version;
  };

  // [[black, white] of R, G, B] when a colour image is levelled per channel; null when linked (one pair).
  // Manual points are always linked: the inputs and sliders hold one pair.
  Viewer.prototype.channelPoints = function () {
    var display = this.info.channel_display;
    if (!display || !this.channels || this.channels.value !== "per" || this.levels.value === "manual") return null;
    var name = this.levels.value;
    return display.map(function (d) { return d[name]; });
  };

  Viewer.prototype.tileUrl = function (level, x, y) {
    return this.info.tile_url.replace("{level}", level).replace("{x}", x).replace("{y}", y) + this.query();
  };

  Viewer.prototype.place = function (wanted, url, level, left, top, width, height) {
    var img = this.tiles[url];
    if (!img) {
      img = document.createElement("img");
      img.className = "v-tile" + (level < 0 ? " v-base" : "");
      img.alt = "";
      img.draggable = false;
      img.setAttribute("data-level", level < 0 ? "base" : level);
      img.addEventListener("error", function () { $("v-status").textContent = "Some tiles could not be loaded."; });
      img.src = url;
      this.tiles[url] = img;
      this.layer.appendChild(img);
    }
    img.style.left = left + "px"; img.style.top = top + "px";
    img.style.width = width + "px"; img.style.height = height + "px";
    wanted[url] = true;
  };

  Viewer.prototype.render = function () {
    var info = this.info, s = this.scale, vw = this.viewport.clientWidth, vh = this.viewport.clientHeight;
    var top = info.levels.length - 1, wanted = {};
    var level = Math.max(0, Math.min(top, Math.floor(Math.log2(1 / s) + 1e-9)));
    var f = Math.pow(2, level), size = info.levels[level], T = info.tile;
    // The top level spans the frame (its last odd pixels dropped), whatever is being loaded above it.
    var base = info.levels[top], bf = Math.pow(2, top);
    this.place(wanted, this.tileUrl(top, 0, 0), -1, -this.ox * s, -this.oy * s, base[0] * bf * s, base[1] * bf * s);
    var x0 = Math.max(0, Math.floor(this.ox / f / T)), y0 = Math.max(0, Math.floor(this.oy / f / T));
    var x1 = Math.min(Math.ceil(size[0] / T) - 1, Math.floor((this.ox + vw / s) / f / T));
    var y1 = Math.min(Math.ceil(size[1] / T) - 1, Math.floor((this.oy + vh / s) / f / T));
    for (var ty = y0; ty <= y1; ty++) {
      for (var tx = x0; tx <= x1; tx++) {
        var w = Math.min(T, size[0] - tx * T), h = Math.min(T, size[1] - ty * T);
        this.place(wanted, this.tileUrl(level, tx, ty), level,
          (tx * T * f - this.ox) * s, (ty * T * f - this.oy) * s, w * f * s, h * f * s);
      }
    }
    for (var url in this.tiles) {
      if (!wanted[url]) { this.layer.removeChild(this.tiles[url]); delete this.tiles[url]; }
    }
    this.viewport.classList.toggle("pixelated", s > 1);
    // Exposed for people debugging the view (and for the browser tests): the current transform.
    this.viewport.setAttribute("data-scale", s);
    this.viewport.setAttribute("data-ox", this.ox);
    this.viewport.setAttribute("data-oy", this.oy);
    this.viewport.setAttribute("data-level", level);
    this.drawStars();
  };

  // ------------------------------------------------------------------ levels and histogram

  Viewer.prototype.applyLevels = function () {
    var points = this.info.display[this.levels.value];
    if (points) { this.black.value = round(points[0]); this.white.value = round(points[1]); }
    this.syncRanges();
    this.drawHistogram();
  };

  Viewer.prototype.linkChannels = function () {  // manual points are one pair for all channels
    if (this.channels) this.channels.value = "linked";
  };

  Viewer.prototype.pointsChanged = function () {
    var self = this;
    if (!(+this.white.value > +this.black.value)) {  // the server would refuse such tiles
      $("v-status").textContent = "White must be above black.";
      return;
    }
    $("v-status").textContent = "";
    this.syncRanges();
    this.drawHistogram();
    window.clearTimeout(this.settle);  // re-render once the slider rests, not on every step
    this.settle = window.setTimeout(function () { self.render(); self.remember(); }, SETTLE_MS);
  };

  Viewer.prototype.syncRanges = function () {
    var h = this.info.histogram;
    this.blackRange.value = Math.round((this.black.value - h.lo) / (h.hi - h.lo) * SLIDER_STEPS);
    this.whiteRange.value = Math.round((this.white.value - h.lo) / (h.hi - h.lo) * SLIDER_STEPS);
  };

  Viewer.prototype.drawHistogram = function () {
    var canvas = this.histogram, ctx = canvas.getContext("2d"), h = this.info.histogram;
    var W = canvas.width, H = canvas.height, counts = h.counts, peak = 1;
    var style = getComputedStyle(canvas);
    var series = this.info.channel_histograms ? this.info.channel_histograms : [counts];
    var colours = this.info.channel_histograms ? ["rgba(230,60,60,0.6)", "rgba(60,200,60,0.6)", "rgba(70,110,240,0.6)"]
                                               : [style.getPropertyValue("--hist-bars") || "#7c8590"];
    series.forEach(function (cs) { cs.forEach(function (c) { peak = Math.max(peak, Math.log1p(c)); }); });
    ctx.clearRect(0, 0, W, H);
    series.forEach(function (cs, n) {
      ctx.fillStyle = colours[n];
      cs.forEach(function (c, i) {
        var bar = Math.log1p(c) / peak * H;  // log counts: the sky peak would flatten everything else
        ctx.fillRect(i * W / cs.length, H - bar, Math.max(1, W / cs.length), bar);
      });
    });
    var black = +this.black.value, white = +this.white.value, stretch = this.stretch.value;
    function xOf(value) { return (value - h.lo) / (h.hi - h.lo) * W; }
    ctx.strokeStyle = style.getPropertyValue("--hist-curve") || "#7aa2c8";
    ctx.beginPath();
    for (var px = 0; px <= W; px++) {
      var value = h.lo + (h.hi - h.lo) * px / W;
      var t = Math.min(1, Math.max(0, (value - black) / (white - black)));
      ctx.lineTo(px, H - curve(stretch, t) * H);
    }
    ctx.stroke();
    ctx.fillStyle = ctx.strokeStyle;
    var points = this.channelPoints();
    if (points) {  // each channel's own points, in its colour
      points.forEach(function (p, n) {
        ctx.fillStyle = colours[n];
        ctx.fillRect(xOf(p[0]) - 1, 0, 2, H);
        ctx.fillRect(xOf(p[1]) - 1, 0, 2, H);
      });
      return;
    }
    ctx.fillRect(xOf(black) - 1, 0, 2, H);
    ctx.fillRect(xOf(white) - 1, 0, 2, H);
  };

  // The same curves as master/viewer/stretch.py, for the histogram's drawing only.
  function curve(stretch, t) {
    if (stretch === "log") return Math.log1p(1000 * t) / Math.log1p(1000);
    if (stretch === "asinh") return Math.asinh(t / 0.1) / Math.asinh(10);
    return t;
  }

  function round(value) { return +(+value).toPrecision(6); }

  function number(value) { return value === null ? "NaN" : String(round(value)); }

  // ------------------------------------------------------------------ readout and stars

  Viewer.prototype.readPixel = function (sx, sy) {
    var x = Math.floor(this.ox + sx / this.scale), y = Math.floor(this.oy + sy / this.scale);
    if (x < 0 || y < 0 || x >= this.info.width || y >= this.info.height) return;
    var url = this.info.pixel_url.replace("{x}", x).replace("{y}", y);
    if (this.pixelBusy) { this.pixelNext = url; return; }  // one request in flight; only the latest waits
    this.fetchPixel(url);
  };

  Viewer.prototype.fetchPixel = function (url) {
    var self = this, out = this.readout;
    this.pixelBusy = true;
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer) return;
        out.x.textContent = answer.x + 1;  // FITS pixel numbers start at 1
        out.y.textContent = answer.y + 1;
        out.value.textContent = answer.rgb ? answer.rgb.map(number).join(", ") : number(answer.value);
        out.ra.textContent = answer.ra === undefined ? "—" : sexagesimal(answer.ra / 15, 2) + "h";
        out.dec.textContent = answer.dec === undefined ? "—" : sexagesimal(answer.dec, 1) + "°";
        self.root.setAttribute("data-ra", answer.ra === undefined ? "" : answer.ra);
        self.root.setAttribute("data-dec", answer.dec === undefined ? "" : answer.dec);
      })
      .catch(function () { /* a lost readout is replaced by the next move */ })
      .then(function () {
        self.pixelBusy = false;
        var next = self.pixelNext;
        self.pixelNext = null;
        if (next) self.fetchPixel(next);
      });
  };

  function sexagesimal(value, decimals) {
    var sign = value < 0 ? "-" : "", rest = Math.abs(value);
    var d = Math.floor(rest), m = Math.floor((rest - d) * 60), s = ((rest - d) * 60 - m) * 60;
    if (+s.toFixed(decimals) >= 60) { s = 0; m += 1; }
    if (m >= 60) { m = 0; d += 1; }
    return sign + d + ":" + String(m).padStart(2, "0") + ":" + s.toFixed(decimals).padStart(3 + decimals, "0");
  }

  Viewer.prototype.drawStars = function () {
    var self = this, key = this.info.key, show = $("v-stars").checked;
    while (this.overlay.firstChild) this.overlay.removeChild(this.overlay.firstChild);
    if (!show) { $("v-star-count").textContent = ""; return; }
    var stars = this.stars[key];
    if (stars === undefined) {
      this.stars[key] = null;  // loading
      fetch(this.info.stars_url, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : { stars: [] }; })
        .then(function (answer) { self.stars[key] = answer.stars; self.drawStars(); })
        .catch(function () { delete self.stars[key]; });
      return;
    }
    if (stars === null) return;
    $("v-star-count").textContent = stars.length + " stars";
    var s = this.scale, vw = this.viewport.clientWidth, vh = this.viewport.clientHeight;
    stars.forEach(function (star) {
      var cx = (star[0] + 0.5 - self.ox) * s, cy = (star[1] + 0.5 - self.oy) * s;  // pixel centres
      if (cx < -20 || cy < -20 || cx > vw + 20 || cy > vh + 20) return;
      var circle = document.createElementNS(SVG, "circle");
      circle.setAttribute("cx", cx); circle.setAttribute("cy", cy);
      circle.setAttribute("r", Math.max(4, 2 * (star[2] || 2) * s));  // twice the HFR holds the star's light
      var title = document.createElementNS(SVG, "title");
      title.textContent = "HFR " + (star[2] === null ? "—" : star[2].toFixed(2) + " px");
      circle.appendChild(title);
      self.overlay.appendChild(circle);
    });
    this.drawPicks();
  };

  // ------------------------------------------------------------------ stars picked for photometry

  Viewer.prototype.bindPicks = function () {
    var self = this, toggle = $("v-pick");
    if (!toggle) return;
    this.picks = [];
    this.picking = false;
    toggle.addEventListener("change", function () {
      self.picking = toggle.checked;
      $("v-picks").hidden = !toggle.checked;
      if (toggle.checked && !$("v-stars").checked) { $("v-stars").checked = true; self.render(); }
    });
    $("v-pick-clear").addEventListener("click", function () { self.picks = []; self.listPicks(); self.render(); });
  };

  Viewer.prototype.pick = function (sx, sy) {
    if (!this.picking) return;
    var stars = this.stars[this.info.key];
    if (!stars) { $("v-status").textContent = "Stars are still being found; click again in a moment."; return; }
    var x = this.ox + sx / this.scale - 0.5, y = this.oy + sy / this.scale - 0.5;  // 0-based, centres whole
    var best = null, bestDistance = Math.max(PICK_RADIUS_PX, CLICK_PX / this.scale);
    stars.forEach(function (star) {
      var d = Math.hypot(star[0] - x, star[1] - y);
      if (d <= bestDistance) { best = star; bestDistance = d; }
    });
    if (!best) { $("v-status").textContent = "No star found there: click on a circled star."; return; }
    if (this.picks.indexOf(best) >= 0) { $("v-status").textContent = "That star is already picked."; return; }
    $("v-status").textContent = "";
    this.picks.push(best);
    this.listPicks();
    this.drawStars();  // redraws the circles and the picks' labels
  };

  function pickLabel(i) { return i === 0 ? "T" : "C" + i; }

  Viewer.prototype.listPicks = function () {
    var list = $("v-pick-list"), box = $("v-picks"), picks = this.picks;
    while (list.firstChild) list.removeChild(list.firstChild);
    picks.forEach(function (star, i) {
      var item = document.createElement("li");
      var where = star.length > 4 ? sexagesimal(star[3] / 15, 2) + "h " + sexagesimal(star[4], 1) + "°"
                                  : "x " + (star[0] + 1).toFixed(1) + " y " + (star[1] + 1).toFixed(1);
      item.textContent = (i === 0 ? "Target" : "Comparison " + i) + ": " + where;
      item.setAttribute("data-pick", pickLabel(i));
      list.appendChild(item);
    });
    // RA/Dec when the frame has a WCS; else pixel positions, which the form also takes
    var query = new URLSearchParams({ target: box.getAttribute("data-target") });
    if (picks.length) {
      var t = picks[0], sky = t.length > 4;
      if (sky) { query.set("ra", t[3]); query.set("dec", t[4]); } else { query.set("x", t[0]); query.set("y", t[1]); }
      query.set("comparisons", picks.slice(1).map(function (c) {
        return sky ? c[3] + " " + c[4] : "px " + c[0] + " " + c[1];
      }).join("\n"));
    }
    $("v-pick-go").href = box.getAttribute("data-photometry") + "?" + query.toString();
  };

  Viewer.prototype.drawPicks = function () {
    if (!this.picks || !this.picks.length || !$("v-stars").checked) return;
    var self = this, s = this.scale;
    this.picks.forEach(function (star, i) {
      var text = document.createElementNS(SVG, "text");
      text.setAttribute("x", (star[0] + 0.5 - self.ox) * s + 8);
      text.setAttribute("y", (star[1] + 0.5 - self.oy) * s - 8);
      text.setAttribute("class", "v-pick-label");
      text.textContent = pickLabel(i);
      self.overlay.appendChild(text);
    });
  };

  // ------------------------------------------------------------------ sequence and blink

  Viewer.prototype.index = function () {
    for (var i = 0; i < this.sequence.length; i++) if (String(this.sequence[i].id) === this.current) return i;
    return -1;
  };

  Viewer.prototype.step = function (delta) {
    var i = this.index() + delta;
    if (i >= 0 && i < this.sequence.length) window.location.href = this.sequence[i].view + window.location.hash;
  };

  Viewer.prototype.show = function (info, label) {
    this.info = info;
    if (this.levels.value !== "manual") this.applyLevels();
    $("v-showing").textContent = label;
    this.render();
  };

  Viewer.prototype.toggleBlink = function (button) {
    var self = this, i = this.index(), j = i + 1 < this.sequence.length ? i + 1 : i - 1;
    if (this.blinkTimer) {
      window.clearInterval(this.blinkTimer);
      this.blinkTimer = null;
      button.setAttribute("aria-pressed", "false");
      this.show(this.infos[this.sequence[i].key], this.sequence[i].when);
      return;
    }
    if (i < 0 || j < 0) return;
    var pair = [this.sequence[i], this.sequence[j]], shown = 0;
    button.setAttribute("aria-pressed", "true");
    fetch(pair[1].info, { credentials: "same-origin" })
      .then(function (response) { if (!response.ok) throw new Error("no info"); return response.json(); })
      .then(function (info) {
        self.infos[info.key] = info;
        if (info.width !== self.info.width || info.height !== self.info.height) {
          throw new Error("sizes differ");
        }
        self.blinkTimer = window.setInterval(function () {
          shown = 1 - shown;
          self.show(self.infos[pair[shown].key], pair[shown].when);
        }, BLINK_MS);
      })
      .catch(function (error) {
        button.setAttribute("aria-pressed", "false");
        $("v-status").textContent = "Cannot blink: " + (error.message === "sizes differ" ?
          "the frames differ in size." : "the other frame cannot be read.");
      });
  };

  // ------------------------------------------------------------------ view state in the address

  Viewer.prototype.remember = function () {
    var cx = this.ox + this.viewport.clientWidth / 2 / this.scale, cy = this.oy + this.viewport.clientHeight / 2 / this.scale;
    var state = { s: this.stretch.value, l: this.levels.value, z: this.scale.toPrecision(5),
                  x: Math.round(cx), y: Math.round(cy) };
    if (this.channels) state.c = this.channels.value;
    if (this.levels.value === "manual") { state.b = this.black.value; state.w = this.white.value; }
    history.replaceState(null, "", "#" + new URLSearchParams(state).toString());
  };

  Viewer.prototype.restore = function () {
    this.fit();
    var state = new URLSearchParams(window.location.hash.slice(1));
    if (state.get("s")) this.stretch.value = state.get("s");
    if (state.get("l")) this.levels.value = state.get("l");
    if (this.channels && state.get("c")) this.channels.value = state.get("c");
    if (this.levels.value === "manual" && state.get("b") && state.get("w")) {
      this.black.value = state.get("b"); this.white.value = state.get("w");
    }
    var z = parseFloat(state.get("z")), x = parseFloat(state.get("x")), y = parseFloat(state.get("y"));
    if (z > 0 && isFinite(x) && isFinite(y)) {
      this.scale = Math.min(MAX_SCALE, z);
      this.ox = x - this.viewport.clientWidth / 2 / this.scale;
      this.oy = y - this.viewport.clientHeight / 2 / this.scale;
    }
  };

  document.addEventListener("DOMContentLoaded", function () {
    var root = $("viewer");
    if (root) window.obsyViewer = new Viewer(root);
  });
})();
