// Live page: one EventSource on /events; the server sends the whole state first, then changes.
(function () {
  "use strict";
  var topics = {};
  var activity = [];
  var MAX_ACTIVITY = 20;

  function text(value) {
    if (value === null || value === undefined || value === "") return "\u2014";
    if (Array.isArray(value)) return value.length ? value.join("; ") : "\u2014";
    return String(value);
  }

  // Same as the server's "when" filter: 2026-03-09T21:30:00Z -> 2026-03-09 21:30:00 UTC
  function when(value) {
    if (typeof value !== "string" || value.length < 19 || value.charAt(10) !== "T") return text(value);
    return value.slice(0, 10) + " " + value.slice(11, 19) + " UTC";
  }

  function renderConnection(connection) {
    var el = document.getElementById("connection");
    if (connection.connected) {
      el.textContent = "live";
      el.className = "ok";
    } else {
      el.textContent = "connection lost since " + when(connection.lost_since);
      el.className = "lost";
    }
  }

  function renderFields() {
    var fields = document.querySelectorAll("[data-field]");
    for (var i = 0; i < fields.length; i++) {
      var path = fields[i].getAttribute("data-field");
      var dot = path.lastIndexOf(".");
      var payload = topics[path.slice(0, dot)];
      var value = payload ? payload[path.slice(dot + 1)] : null;
      fields[i].textContent = fields[i].getAttribute("data-format") === "time" ? when(value) : text(value);
    }
    var safety = topics["safety"];
    document.getElementById("safety-card").setAttribute("data-state", safety ? safety.state : "unknown");
    var status = topics["status"];
    document.getElementById("master").setAttribute("data-state", status ? status.state : "unknown");
    var job = topics["job"];
    document.getElementById("job-progress").value = job && job.progress ? job.progress : 0;
    var frame = topics["frame/latest"];
    var link = document.getElementById("frame-link");
    var master = document.body.getAttribute("data-master-url");
    if (master && frame && frame.frame_path) {
      link.href = master + frame.frame_path;
      link.hidden = false;
    } else {
      link.hidden = true;
    }
  }

  // One <li> per "<base><node>" topic, sorted by node; label() gives its text.
  function renderPerNode(base, listId, attribute, empty, label) {
    var list = document.getElementById(listId);
    var keys = Object.keys(topics).filter(function (k) { return k.indexOf(base) === 0; }).sort();
    list.textContent = "";
    keys.forEach(function (key) {
      var payload = topics[key];
      var li = document.createElement("li");
      li.setAttribute(attribute, key.slice(base.length));
      if (payload.state !== undefined) li.setAttribute("data-state", payload.state);
      label(li, key.slice(base.length), payload);
      list.appendChild(li);
    });
    if (!keys.length && empty) {
      var none = document.createElement("li");
      none.className = "small";
      none.textContent = empty;
      list.appendChild(none);
    }
  }

  function renderNodes() {
    renderPerNode("nodes/", "nodes", "data-node", "", function (li, name, node) {
      li.textContent = name + " (" + node.role + "): " + node.state;
    });
    renderPerNode("roof/", "roofs", "data-roof", "no roof reported yet", function (li, name, roof) {
      li.textContent = name + ": " + roof.state + " (" + roof.activity + ")";
      if (roof.alarm) {
        var alarm = document.createElement("span");
        alarm.className = "alarm";
        alarm.textContent = "alarm: " + roof.alarm;
        li.appendChild(document.createTextNode(" "));
        li.appendChild(alarm);
      }
    });
    renderPerNode("mount/", "mounts", "data-mount", "no mount reported yet", function (li, name, mount) {
      li.textContent = name + ": " + mount.state;
    });
  }

  function renderActivity() {
    var list = document.getElementById("activity");
    list.textContent = "";
    activity.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = when(item.at) + " " + item.text;
      list.appendChild(li);
    });
  }

  // Current values as a list; the chart image is redrawn by the server on each new reading.
  var lastWeatherAt = null;
  function renderWeather() {
    var weather = topics["weather"];
    var list = document.getElementById("weather-values");
    if (!weather || !weather.values) return;
    list.textContent = "";
    Object.keys(weather.values).sort().forEach(function (name) {
      var dt = document.createElement("dt");
      dt.textContent = name;
      var dd = document.createElement("dd");
      dd.setAttribute("data-quantity", name);
      dd.textContent = text(weather.values[name]);
      list.appendChild(dt);
      list.appendChild(dd);
    });
    if (weather.at !== lastWeatherAt) {
      lastWeatherAt = weather.at;
      document.getElementById("weather-chart").src = "/weather.svg?at=" + encodeURIComponent(weather.at || "");
    }
  }

  function render() {
    renderFields();
    renderWeather();
    renderNodes();
    renderActivity();
  }

  function start() {
    if (!window.EventSource) return;  // the server-rendered page still shows the state
    var source = new EventSource("/events");
    source.addEventListener("state", function (e) {
      var state = JSON.parse(e.data);
      topics = state.topics;
      activity = state.activity;
      renderConnection(state.connection);
      render();
    });
    source.addEventListener("topic", function (e) {
      var change = JSON.parse(e.data);
      if (change.leaf === "activity") {
        activity.unshift(change.payload);
        activity = activity.slice(0, MAX_ACTIVITY);
      } else {
        topics[change.leaf] = change.payload;
      }
      render();
    });
    source.addEventListener("clear", function (e) {
      delete topics[JSON.parse(e.data).leaf];
      render();
    });
    source.addEventListener("connection", function (e) {
      renderConnection(JSON.parse(e.data).connection);
    });
    source.addEventListener("error", function () {
      var el = document.getElementById("connection");
      el.textContent = "this page lost the site; reconnecting\u2026";
      el.className = "lost";
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
