/* OBSY portal: red-light mode, live lists, auto-submitting filters, header filter. No dependencies. */
(function () {
  "use strict";
  var root = document.documentElement;
  var NIGHT_KEY = "obsy-red-light";

  // Before the first paint, so a red-light page never flashes bright.
  try {
    if (localStorage.getItem(NIGHT_KEY) === "1") root.classList.add("red-light");
  } catch (e) { /* storage disabled: stay in the default theme */ }

  function toggleNight() {
    var on = root.classList.toggle("red-light");
    try { localStorage.setItem(NIGHT_KEY, on ? "1" : "0"); } catch (e) { /* ignore */ }
  }

  // Replace a [data-refresh] section with a fresh copy from the server every N seconds.
  function liveSection(section) {
    var seconds = parseFloat(section.getAttribute("data-refresh")) || 10;
    var busy = false;
    function refresh() {
      if (busy || document.hidden) return;
      busy = true;
      fetch(window.location.href, { headers: { "X-OBSY-Refresh": "1" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok || response.redirected) throw new Error("refresh refused");
          return response.text();
        })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById(section.id);
          if (!fresh) return;
          var known = {};
          section.querySelectorAll("[data-frame-id]").forEach(function (row) {
            known[row.getAttribute("data-frame-id")] = true;
          });
          section.innerHTML = fresh.innerHTML;
          section.querySelectorAll("[data-frame-id]").forEach(function (row) {
            if (!known[row.getAttribute("data-frame-id")]) row.classList.add("fresh");
          });
        })
        .catch(function () { /* offline or logged out: try again next time */ })
        .then(function () { busy = false; });
    }
    window.setInterval(refresh, seconds * 1000);
  }

  function filterTable(input) {
    var table = document.getElementById(input.getAttribute("data-filter-table"));
    if (!table) return;
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      table.querySelectorAll("tbody tr").forEach(function (row) {
        row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) === -1;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-night-toggle]").forEach(function (button) {
      button.addEventListener("click", toggleNight);
    });
    document.querySelectorAll("[data-refresh]").forEach(liveSection);
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      form.addEventListener("submit", function () {
        // Leave "all" out of the address: /frames?target=M31, not /frames?night=&target=M31&...
        Array.prototype.forEach.call(form.elements, function (field) {
          if (field.name && field.value === "") field.disabled = true;
        });
      });
      window.addEventListener("pageshow", function () {  // coming back through history
        Array.prototype.forEach.call(form.elements, function (field) { field.disabled = false; });
      });
      form.querySelectorAll("select").forEach(function (select) {
        select.addEventListener("change", function () { form.requestSubmit(); });
      });
    });
    document.querySelectorAll("[data-filter-table]").forEach(filterTable);
  });
})();
