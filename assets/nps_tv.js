/* NPS TV in the browser: panel rotation, the "updated" label, figure scaling, the gong
 * (clientside callbacks in the nps_tv namespace), relative times, and the wall's watchdog.
 * Self-contained: no libraries, nothing fetched but /health. */
(function () {
  "use strict";

  var BASE_HEIGHT = 1080;
  var BASE_WIDTH = 1920;
  var MANAGER_SCALE = 0.62;
  var GONG_SECONDS = { promoter: 8, passive: 5, detractor: 9 };
  var GONG_GAP_SECONDS = 20;
  var GONG_FRESH_SECONDS = 900;
  var HEALTH_EVERY_MS = 10000;
  var HEALTH_FAILS = 3;
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
    "Dec"];

  var rotation = { idx: 0, since: 0, key: null, last: null };
  var status = { receivedAt: 0, last: [] };
  var gongState = { ready: false, seen: null, until: 0, shownAt: 0 };
  var watchdog = { fails: 0, want: null, busy: false };
  var access = { refused: null };
  window.npsTv = { rotation: rotation, status: status, gong: gongState, watchdog: watchdog,
    access: access };

  // -- share links: the server names why it refused a request (X-NPS-TV-Link), so a revoked
  // or expired link shows as such within one poll, instead of the data, without a reload.
  var LINK_MESSAGES = { revoked: "This link was revoked", expired: "This link expired",
    unknown: "This link is not valid", missing: "No access: open a share link",
    scope: "This link does not show that: open it again from its share URL" };
  if (window.fetch) {
    var realFetch = window.fetch.bind(window);
    window.fetch = function (input, init) {
      return realFetch(input, init).then(function (r) {
        var reason = r.headers.get("X-NPS-TV-Link");
        if ((r.status === 401 || r.status === 403) && reason) {
          access.refused = LINK_MESSAGES[reason] ? reason : "unknown";
        } else if (r.ok && /_dash-update-component/.test(String((input && input.url) || input))) {
          access.refused = null;
        }
        return r;
      });
    };
  }

  function noUpdate(n) {
    var out = [];
    for (var i = 0; i < n; i++) { out.push(window.dash_clientside.no_update); }
    return out;
  }

  /* Only send what changed since the previous call, so React leaves the rest alone. */
  function changedOnly(values, previous) {
    return values.map(function (v, i) {
      return previous[i] === v ? window.dash_clientside.no_update : v;
    });
  }

  // -- rotation -----------------------------------------------------------------------------
  function rotate(_n, config) {
    // Every panel of the registry, in order (the page config names them; see
    // app/panels/registry.py): the callback's outputs are their sections, then their items.
    var names = (config && config.names) || [];
    if (!config) { return noUpdate(window.dash_clientside.callback_context.outputs_list.length); }
    var panels = config.panels && config.panels.length ? config.panels : names;
    var now = Date.now();
    var key = panels.join(",");
    if (rotation.key !== key) {
      rotation.key = key; rotation.idx = 0; rotation.since = now; rotation.last = null;
    }
    if (panels.length > 1) {
      var dwell = ((config.dwell || {})[panels[rotation.idx]] || 15) * 1000;
      if (now - rotation.since >= dwell || isSkipped(panels[rotation.idx], config)) {
        rotation.idx = nextShown(panels, rotation.idx, config);
        rotation.since = now;
      }
    }
    var active = panels[rotation.idx];
    var classes = names.map(function (name) {
      var cls = "tv-panel tv-panel--" + name;
      if (panels.indexOf(name) < 0) { return cls + " is-off"; }
      return name === active ? cls + " is-active" : cls;
    });
    var nav = names.map(function (name) {
      if (panels.indexOf(name) < 0) { return "tv-nav-item is-off"; }
      return name === active ? "tv-nav-item is-active" : "tv-nav-item";
    });
    var signature = classes.join("|");
    if (signature === rotation.last) { return noUpdate(2 * names.length); }
    rotation.last = signature;
    return classes.concat(nav);
  }

  /* A panel declared skip_when_empty (app/panels/registry.py) that says nothing happened
   * ("No significant change") is passed over while another panel has something to show. */
  function isSkipped(name, config) {
    if ((config.skip_empty || []).indexOf(name) < 0) { return false; }
    return !!document.querySelector("#tv-panel-" + name + " [data-empty]");
  }

  function nextShown(panels, idx, config) {
    for (var step = 1; step <= panels.length; step++) {
      var candidate = (idx + step) % panels.length;
      if (!isSkipped(panels[candidate], config)) { return candidate; }
    }
    return idx;  // every panel is empty: keep the one on screen
  }

  // -- status: "updated hh:mm", staleness, connection notice, clock -------------------------
  function formatClock(tz) {
    var opts = { hour: "2-digit", minute: "2-digit", hour12: false };
    try {
      return new Intl.DateTimeFormat([], Object.assign({ timeZone: tz }, opts)).format(new Date());
    } catch (e) {
      return new Intl.DateTimeFormat([], opts).format(new Date());
    }
  }

  function updateStatus(_n, data, config) {
    var cfg = config || {};
    var ctx = window.dash_clientside.callback_context;
    var triggered = (ctx && ctx.triggered ? ctx.triggered : []).map(function (t) {
      return t.prop_id;
    });
    var now = Date.now();
    var fresh = triggered.some(function (p) { return /\.data$/.test(p); });
    if (!status.receivedAt || fresh) { status.receivedAt = now; }
    var stale = cfg.stale || 60;
    var label, cls;
    if (!data || data.ok === null || data.ok === undefined) {
      label = "Waiting for data";
      cls = "status-updated is-unknown";
    } else {
      var age = (data.age || 0) + (now - status.receivedAt) / 1000;
      label = "Updated " + data.hhmm;
      cls = "status-updated " + (age >= 3 * stale ? "is-red" : age >= stale ? "is-amber"
        : "is-fresh");
    }
    var silentFor = (now - status.receivedAt) / 1000;
    var lost = silentFor > (cfg.lost_after || 10);
    // The server answers but its last poll of the store failed: the data on screen is the
    // last good one. The wall says so in plain words; the manager also names the error class.
    var trouble = !lost && !!(data && data.trouble);
    var notice = "", noticeCls = "tv-connection";
    if (access.refused) {
      notice = LINK_MESSAGES[access.refused];
      noticeCls = "tv-connection is-shown is-refused";
    } else if (lost) {
      notice = "Connection lost — showing data from " + ((data && data.hhmm) || "earlier");
      noticeCls = "tv-connection is-shown";
    } else if (trouble) {
      var detail = cfg.scale === "manager" && data.error ? " (" + data.error + ")" : "";
      notice = "Data source trouble" + detail +
        (data.hhmm ? " — showing data from " + data.hhmm : " — no data yet");
      noticeCls = "tv-connection is-shown is-trouble";
      if (/is-fresh/.test(cls)) { cls = "status-updated is-amber"; }
    }
    reloadIfAsked(data);
    var values = [label, cls, formatClock(cfg.tz), notice, noticeCls];
    var out = changedOnly(values, status.last);
    status.last = values;
    return out;
  }

  /* An admin asked this screen (or every screen) to reload: the stamp is newer than the page
   * (both are server times, so the TV's own clock does not matter). */
  function reloadIfAsked(data) {
    var root = document.getElementById("tv-root");
    if (!root || !data || !data.reload) { return; }
    var loaded = parseInt(root.getAttribute("data-loaded-at") || "0", 10);
    var reason = "requested " + data.reload;
    if (loaded && data.reload > loaded && !recentlyReloadedFor(reason)) { reloadNow(reason); }
  }

  // -- figures: server sizes are for a 1080p wall; scale them to this screen ---------------
  var SCALED_KEYS = {
    size: 1, width: 1, yshift: 1, xshift: 1, ax: 1, ay: 1, borderpad: 1, borderwidth: 1,
    arrowwidth: 1, ticklen: 1, standoff: 1, zerolinewidth: 1, itemwidth: 1
  };

  function scaleTree(node, factor, key, parentKey) {
    if (Array.isArray(node)) {
      return node.map(function (item) { return scaleTree(item, factor, key, parentKey); });
    }
    if (node && typeof node === "object") {
      var out = {};
      Object.keys(node).forEach(function (k) { out[k] = scaleTree(node[k], factor, k, key); });
      return out;
    }
    if (typeof node === "number" && (SCALED_KEYS[key] || parentKey === "margin")) {
      return Math.round(node * factor * 10) / 10;
    }
    return node;
  }

  function scaleFigure(figure, config) {
    if (!figure) { return window.dash_clientside.no_update; }
    var mode = (config && config.scale) || "viewport";
    var factor = mode === "manager" ? MANAGER_SCALE
      : Math.max(0.5, Math.min(window.innerHeight / BASE_HEIGHT, window.innerWidth / BASE_WIDTH));
    if (Math.abs(factor - 1) < 0.02) { return figure; }
    return scaleTree(figure, factor, null, null);
  }

  // -- the gong: a new response takes the stage for a few seconds ---------------------------
  function el(type, className, children) {
    return { namespace: "dash_html_components", type: type,
      props: { className: className, children: children } };
  }

  var HEADLINES = { promoter: "New promoter!", passive: "New response",
    detractor: "Heads up: a detractor" };

  function renderGong(latest) {
    var body = [el("Div", "gong-headline", HEADLINES[latest.category] || "New response")];
    if (latest.text) { body.push(el("P", "gong-text", "\u201c" + latest.text + "\u201d")); }
    if (latest.chips && latest.chips.length) {
      body.push(el("Div", "gong-chips", latest.chips.map(function (c) {
        return el("Span", "chip chip-segment", c);
      })));
    }
    return el("Div", "gong-card gong-" + latest.category, [
      el("Div", "gong-badge badge-" + latest.category, String(latest.score)),
      el("Div", "gong-body", body)
    ]);
  }

  function gong(latest, _n) {
    var now = Date.now();
    if (!gongState.ready) {  // what was already there when the page loaded is not news
      gongState.ready = true;
      gongState.seen = latest ? latest.id : null;
      return noUpdate(2);
    }
    if (latest && latest.id !== gongState.seen) {
      gongState.seen = latest.id;
      var recent = now / 1000 - latest.at < GONG_FRESH_SECONDS;
      if (recent && now - gongState.shownAt > GONG_GAP_SECONDS * 1000) {
        gongState.shownAt = now;
        gongState.until = now + (GONG_SECONDS[latest.category] || 6) * 1000;
        return [renderGong(latest), "tv-gong is-showing gong-" + latest.category];
      }
    }
    if (gongState.until && now > gongState.until) {
      gongState.until = 0;
      return [window.dash_clientside.no_update, "tv-gong"];
    }
    return noUpdate(2);
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    nps_tv: { rotate: rotate, status: updateStatus, scale_figure: scaleFigure, gong: gong }
  });

  // -- relative times ("4 min ago"), mirrored from app.panels.format_ago --------------------
  function formatAgo(ms, then) {
    var seconds = ms / 1000;
    if (seconds < 45) { return "just now"; }
    var minutes = Math.round(seconds / 60);
    if (minutes < 60) { return minutes + " min ago"; }
    var hours = Math.round(seconds / 3600);
    if (hours < 24) { return hours + " h ago"; }
    var days = Math.round(seconds / 86400);
    if (days < 2) { return "yesterday"; }
    if (days <= 30) { return days + " days ago"; }
    var d = new Date(then);
    return d.getUTCDate() + " " + MONTHS[d.getUTCMonth()];
  }

  function refreshTimes() {
    var now = Date.now();
    var nodes = document.querySelectorAll("[data-ts]");
    for (var i = 0; i < nodes.length; i++) {
      var then = Date.parse(nodes[i].getAttribute("data-ts"));
      if (isNaN(then)) { continue; }
      var text = formatAgo(now - then, then);
      if (nodes[i].textContent !== text) { nodes[i].textContent = text; }
    }
  }
  setInterval(refreshTimes, 5000);

  // -- watchdog: reload after a new build, repeated failures or at night, once /health is OK --
  function readList(key) {
    try { return JSON.parse(window.sessionStorage.getItem(key) || "[]"); } catch (e) { return []; }
  }

  function rememberBuild(id) {
    if (!id) { return; }
    var known = readList("npsTvBuilds");
    if (known.indexOf(id) < 0) {
      known.push(id);
      try { window.sessionStorage.setItem("npsTvBuilds", JSON.stringify(known.slice(-20))); }
      catch (e) { /* private mode: fine */ }
    }
  }

  function reloadNow(reason) {
    try {
      window.sessionStorage.setItem("npsTvReload", JSON.stringify({ at: Date.now(), reason: reason }));
    } catch (e) { /* ignore */ }
    window.location.reload();
  }

  function recentlyReloadedFor(reason) {
    try {
      var last = JSON.parse(window.sessionStorage.getItem("npsTvReload") || "null");
      return last && last.reason === reason && Date.now() - last.at < 10 * 60 * 1000;
    } catch (e) { return false; }
  }

  function checkHealth() {
    var root = document.getElementById("tv-root");
    if (!root || watchdog.busy) { return; }
    var pageBuild = root.getAttribute("data-build-id");
    rememberBuild(pageBuild);
    var reloadAt = parseInt(root.getAttribute("data-reload-at") || "0", 10);
    if (reloadAt && Date.now() >= reloadAt && !watchdog.want) { watchdog.want = "nightly"; }
    var poll = parseFloat(root.getAttribute("data-poll-seconds") || "3");
    var silentFor = status.receivedAt ? (Date.now() - status.receivedAt) / 1000 : 0;
    if (silentFor > Math.max(10 * poll, 60) && !watchdog.want && !recentlyReloadedFor("no data")) {
      watchdog.want = "no data";
    }
    watchdog.busy = true;
    fetch("/health", { cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 503) {
          // The server answers but its store is in trouble (the page shows that notice): a
          // reload would not help, and it is not "unreachable" either. A proxy's own 503
          // page is not JSON, so it still counts as a failure.
          return r.json().then(function () { watchdog.fails = 0; return null; });
        }
        if (!r.ok) { throw new Error("health " + r.status); }
        return r.json();
      })
      .then(function (body) {
        if (body === null) { return; }
        watchdog.fails = 0;
        // Reload for a build never seen in this tab (workers of one deploy may differ).
        var build = body && body.build_id;
        if (build && build !== pageBuild && readList("npsTvBuilds").indexOf(build) < 0) {
          rememberBuild(build);
          watchdog.want = watchdog.want || "new build";
        }
        if (watchdog.want) { reloadNow(watchdog.want); }
      })
      .catch(function () {
        watchdog.fails += 1;
        if (watchdog.fails >= HEALTH_FAILS && !watchdog.want) {
          watchdog.want = "server unreachable";
        }
      })
      .then(function () { watchdog.busy = false; });
  }
  setInterval(checkHealth, HEALTH_EVERY_MS);

  // -- Dash's undo history: bounded ----------------------------------------------------------
  // dash-renderer records every change of a callback Input in an undo history (the
  // recordHistory reducer) and never trims it; with the undo/redo buttons hidden nothing
  // reads it. Our 1 s poll and tick intervals add ~7,200 entries an hour, a slow leak on a
  // wall that runs for weeks (measured with benchmarks/bench_wall_memory.py). Keep a few.
  var HISTORY_KEEP = 10;
  var HISTORY_TRIM_MS = 5000;
  function trimDashHistory() {
    var stores = window.dash_stores || [];
    for (var i = 0; i < stores.length; i++) {
      var state = stores[i].getState && stores[i].getState();
      var past = state && state.history && state.history.past;
      if (past && past.length > HISTORY_KEEP) { past.splice(0, past.length - HISTORY_KEEP); }
    }
  }
  setInterval(trimDashHistory, HISTORY_TRIM_MS);
})();
