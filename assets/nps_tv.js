/* NPS TV in the browser: panel rotation and the "updated" label (plain DOM work, no Dash
 * callback), figure scaling and the gong's card (clientside callbacks in the nps_tv
 * namespace), the comments' scroll steps, relative times, and the wall's watchdog.
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

  var rotation = { idx: 0, since: 0, key: null, turns: 0 };
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
  // The wall's poll names the stamp its tick told (X-NPS-TV-Stamp): the tick and the poll may
  // reach different workers or instances, and one that has not read that data yet reads the
  // store before answering (app/live.py, catch_up) instead of answering "nothing new"; and
  // whether its tick stream is open or about to be (X-NPS-TV-Streamed).
  function withStamp(input, init) {
    var ask = window.npsAsk;
    var stamp = ask && ask.stamp;
    var streamed = !!(ask && ask.streamed && ask.streamed());
    var wall = document.getElementById("tv-root");  // the stamp is the wall's (nps_ask.js)
    if ((!stamp && !streamed) || !wall || !wall.getAttribute("data-ask-path") ||
        !/_dash-update-component/.test(String((input && input.url) || input))) {
      return init;
    }
    var out = {};
    Object.keys(init || {}).forEach(function (k) { out[k] = init[k]; });
    // A Request carries its own headers, which an init without any would replace.
    var given = (init && init.headers) || (input && input.headers) || {};
    var headers = new Headers(given);
    if (stamp) { headers.set("X-NPS-TV-Stamp", stamp); }
    // Its stream's worker builds its next answer ahead (app/live.py, STREAMED_HEADER): the
    // worker this poll reaches need not build ahead for it on every change as well. Said
    // from the first poll, which goes before the stream opens (nps_ask.js, streamed).
    if (streamed) { headers.set("X-NPS-TV-Streamed", "1"); }
    out.headers = headers;
    return out;
  }
  if (window.fetch) {
    var realFetch = window.fetch.bind(window);
    window.fetch = function (input, init) {
      // The wall's poll, answered from what its stream pushed (nps_ask.js) when it can be.
      var served = window.npsAsk && window.npsAsk.serve && window.npsAsk.serve(input, init);
      var answer;
      if (served instanceof Response) {
        answer = Promise.resolve(served);
      } else if (typeof served === "number") {  // a push it could not take: ask, spread
        answer = new Promise(function (ok) { setTimeout(ok, served); }).then(function () {
          return realFetch(input, withStamp(input, init));
        }).then(function (r) {  // its stream then pushes from the parts the page has now
          if (r.ok && window.npsAsk.resync) { window.npsAsk.resync(r.clone(), init); }
          return r;
        });
      } else {
        answer = realFetch(input, withStamp(input, init));
      }
      return answer.then(function (r) {
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

  /* Adds or removes one class, touching the element only when that changes something (an
   * unchanged class list costs no style recalculation). */
  function setClass(el, name, on) {
    if (el && el.classList.contains(name) !== on) { el.classList.toggle(name, on); }
  }

  // -- rotation: purely in the browser. Every panel stays mounted; the active one gets
  // is-active (CSS fades it in and starts its progress bar). No Dash callback, no React
  // render and no request per rotation: a TV stick spends nothing between data changes.
  // The classes belong to this script: no Dash callback writes the sections' className.
  function rotationPanels(config) {
    return config && config.panels && config.panels.length ? config.panels : [];
  }

  function learnRotation(config, now) {
    var key = rotationPanels(config).join(",");
    if (!config || !config.names || rotation.key === key) { return; }
    rotation.config = config;
    rotation.key = key; rotation.idx = 0; rotation.since = now;
  }

  /* Whether the rotation moves on now: the dwell is over or the panel has nothing to say. */
  function rotationDue(now) {
    var config = rotation.config;
    var panels = rotationPanels(config);
    if (panels.length < 2) { return false; }
    var dwell = ((config.dwell || {})[panels[rotation.idx]] || 15) * 1000;
    return now - rotation.since >= dwell || isSkipped(panels[rotation.idx], config);
  }

  function rotate(now) {
    var config = rotation.config;
    var panels = rotationPanels(config);
    if (!panels.length) { return; }
    if (rotationDue(now)) {
      rotation.idx = nextShown(panels, rotation.idx, config);
      rotation.since = now;
      rotation.turns += 1;
    }
    showPanel(config.names, panels[rotation.idx]);
  }

  /* Marks ``active`` and its item in the bar; idempotent, so a re-drawn page is put right. */
  function showPanel(names, active) {
    for (var i = 0; i < names.length; i++) {
      var on = names[i] === active;
      setClass(document.getElementById("tv-panel-" + names[i]), "is-active", on);
      setClass(document.getElementById("tv-nav-" + names[i]), "is-active", on);
    }
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
  // Painted straight into the page's own elements (their text and class belong to this
  // script), once a second when something shown changes: the clock's minute, a staleness
  // step, the connection notice. Data comes from the Dash status store (a poll) or, on an
  // asking wall, from each ask answer (assets/nps_ask.js calls hear()), never a Dash cycle.
  var clocks = {};
  function formatClock(tz, now) {
    var key = tz || "";
    if (!clocks[key]) {
      var opts = { hour: "2-digit", minute: "2-digit", hour12: false };
      try {
        clocks[key] = new Intl.DateTimeFormat([], Object.assign({ timeZone: tz }, opts));
      } catch (e) {
        clocks[key] = new Intl.DateTimeFormat([], opts);
      }
    }
    return clocks[key].format(new Date(now));
  }

  /* The status store's callback (no outputs): a poll brought the status, or the page loaded. */
  function updateStatus(data, config) {
    var now = Date.now();
    status.cfg = config || {};
    learnRotation(config, now);
    if (config && config.tick) { tick.id = config.tick; }
    hear(data, now);
    rotate(now);
    // The worker that answered had not caught up with the stamp this page was told
    // (app/live.py, BEHIND): nps_ask.js polls again shortly, a few times at most.
    if (data && data.behind && window.npsAsk && window.npsAsk.behind) { window.npsAsk.behind(); }
  }

  /* The server answered with ``data`` (a poll, or an ask of assets/nps_ask.js). */
  function hear(data, now) {
    status.receivedAt = now || Date.now();
    status.data = data;
    reloadIfAsked(data);
    paintStatus(status.receivedAt);
  }

  /* The label, its class, the clock, the notice and its class, as of ``now``. */
  function statusValues(data, cfg, now) {
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
    return [label, cls, formatClock(cfg.tz, now), notice, noticeCls];
  }

  var STATUS_PARTS = [["updated", "textContent"], ["updated", "className"],
    ["clock", "textContent"], ["connection", "textContent"], ["connection", "className"]];

  /* Writes what changed of the status into the page; true when something did. */
  function paintStatus(now) {
    var cfg = status.cfg;
    if (!cfg || !cfg.prefix) { return false; }
    var values = statusValues(status.data, cfg, now);
    var changed = false;
    for (var i = 0; i < values.length; i++) {
      var el = document.getElementById(cfg.prefix + "-" + STATUS_PARTS[i][0]);
      if (el && el[STATUS_PARTS[i][1]] !== values[i]) {
        el[STATUS_PARTS[i][1]] = values[i];
        changed = true;
      }
    }
    status.last = values;
    return changed;
  }

  // -- once a second: the rotation, the status, the gong's end. Plain DOM work that touches
  // the page only when something is due. The manager page's tick Interval (its workspace
  // waits for one while the reader types) is bumped when its status changed; the wall has
  // no tick at all.
  var tick = { id: null, n: 0, seconds: 0 };
  function everySecond() {
    var now = Date.now();
    tick.seconds += 1;
    rotate(now);
    endGong(now);
    drawAll();
    watchScroll();
    if (paintStatus(now) && tick.id) {
      var setProps = window.dash_clientside && window.dash_clientside.set_props;
      if (setProps) {
        tick.n += 1;
        tick.last = "status";
        setProps(tick.id, { n_intervals: tick.n });
      }
    }
  }
  setInterval(everySecond, 1000);
  window.npsTv.tick = tick;
  window.npsTv.hear = function (data) { hear(data, Date.now()); };

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
  // The callback renders the card (new data brings a Dash cycle anyway); showing and hiding
  // is this script's class on #tv-gong (no Dash callback writes it), ended by everySecond.
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

  function gongElement() { return document.getElementById("tv-gong"); }

  function gong(latest) {
    var now = Date.now();
    if (!gongState.ready) {  // what was already there when the page loaded is not news
      gongState.ready = true;
      gongState.seen = latest ? latest.id : null;
      return noUpdate(1);
    }
    if (latest && latest.id !== gongState.seen) {
      gongState.seen = latest.id;
      var recent = now / 1000 - latest.at < GONG_FRESH_SECONDS;
      if (recent && now - gongState.shownAt > GONG_GAP_SECONDS * 1000) {
        gongState.shownAt = now;
        gongState.until = now + (GONG_SECONDS[latest.category] || 6) * 1000;
        var box = gongElement();
        if (box) { box.className = "tv-gong is-showing gong-" + latest.category; }
        return [renderGong(latest)];
      }
    }
    return noUpdate(1);
  }

  function endGong(now) {
    if (!gongState.until || now <= gongState.until) { return; }
    gongState.until = 0;
    var box = gongElement();
    if (box) { box.className = "tv-gong"; }
  }

  // -- panels drawn here from their data (app/panels/registry.py Panel.drawn, drawer): as
  // Dash components the comment feed and the topic table were four fifths of the wall's; every
  // Dash cycle (one per change) walks every component several times. Text goes in as text
  // only, never as markup.
  var drawn = {};  // by body id: its newest data, the data last drawn, its drawer

  /* A drawn panel's callback (``draw(body, data)`` draws it; the panel's body id comes with
   * the data): draws the data now, or as soon as the body is there (a callback of a page
   * just rendered may run before React has put its elements in), and answers no_update. */
  function drawer(draw) {
    return function (data, bodyId) {
      var entry = drawn[bodyId] || (drawn[bodyId] = { data: null, done: null });
      entry.data = data;
      entry.draw = draw;
      if (!drawPending(bodyId)) {  // and each second after (everySecond)
        setTimeout(function () { drawPending(bodyId); }, 50);
      }
      return window.dash_clientside.no_update;
    };
  }

  /* Draw a panel's newest data if it is not drawn yet; false while its body is missing. */
  function drawPending(bodyId) {
    var entry = drawn[bodyId];
    if (!entry || !entry.data) { return true; }
    var body = document.getElementById(bodyId);
    if (!body) { return false; }
    if (entry.data === entry.done && body === entry.into) { return true; }
    entry.done = entry.data;
    entry.into = body;  // a body React made anew (the page drawn again) is drawn into again
    entry.draw(body, entry.data);
    return true;
  }

  function drawAll() { Object.keys(drawn).forEach(drawPending); }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  // A panel in the wire form of Dash's html components (app/wire.py), drawn as the same
  // elements: only these tags, and of their props only the class, a text id, the title, the
  // style and data-/aria- attributes (never a handler, a link or markup).
  var TREE_TAGS = { Div: "div", Span: "span", P: "p", B: "b", Strong: "strong", Em: "em" };
  var STYLE_NAME = /^[a-zA-Z]+$/;
  var STYLE_VALUE = /^[-\w.%# ,]*$/;  // sizes, colours, names: no url(), nothing loaded
  var ATTRIBUTE = /^(data|aria)-[a-z0-9-]+$/;
  function drawTree(node) {
    if (node === null || node === undefined || node === false) { return null; }
    if (typeof node === "string" || typeof node === "number") {
      return document.createTextNode(String(node));
    }
    if (typeof node !== "object" || node.namespace !== "dash_html_components" ||
        !TREE_TAGS.hasOwnProperty(node.type)) { return null; }
    var out = document.createElement(TREE_TAGS[node.type]);
    var props = node.props || {};
    Object.keys(props).forEach(function (key) {
      var value = props[key];
      if (value === null || value === undefined || key === "children") { return; }
      if (key === "className") { out.className = String(value); }
      else if (key === "id" && typeof value === "string") { out.id = value; }
      else if (key === "title") { out.title = String(value); }
      else if (key === "style" && typeof value === "object") {
        Object.keys(value).forEach(function (name) {  // unknown names are ignored
          var text = String(value[name]);
          if (STYLE_NAME.test(name) && STYLE_VALUE.test(text)) {
            out.style.setProperty(name.replace(/[A-Z]/g, function (c) {
              return "-" + c.toLowerCase(); }), text);
          }
        });
      } else if (ATTRIBUTE.test(key)) { out.setAttribute(key, String(value)); }
    });
    drawChildren(out, props.children);
    return out;
  }

  function drawChildren(parent, children) {
    (Array.isArray(children) ? children : [children]).forEach(function (child) {
      if (Array.isArray(child)) { drawChildren(parent, child); return; }
      var node = drawTree(child);
      if (node) { parent.appendChild(node); }
    });
  }

  /* A panel in wire form (the topic table: app/panels/topics.py). */
  function drawPanelTree(body, data) {
    var holder = document.createDocumentFragment();
    drawChildren(holder, data);
    body.replaceChildren(holder);
  }

  // -- the topic table (app/panels/topics.py build_wall_table): its rows as data (a change
  // moves a few values; as components, finding them took the server 150-900 us a screen),
  // drawn as the elements build_topics_panel makes of the same rows, by drawTree. Every
  // text comes in the data.
  function wire(type, props, children) {
    var all = Object.assign({}, props);
    if (children !== undefined) { all.children = children; }
    return { type: type, namespace: "dash_html_components", props: all };
  }

  function topicRow(cells) {
    var tone = cells[2], nps = cells[3], change = cells[4], impact = cells[6];
    var toneCell = !tone ? wire("Div", { className: "topic-cell topic-tone is-empty" }) :
      wire("Div", { className: "topic-cell topic-tone", title: tone[2] }, [
        wire("Span", { className: "tone-text " + tone[1] }, tone[0]),
        wire("Span", { className: "tone-bar" }, tone[3].map(function (part) {
          return wire("Span", { className: "tone-bar-part tone-" + part[0],
                                style: { width: part[1] } });
        }))]);
    var npsCell = wire("Div", { className: "topic-cell topic-nps" }, nps.length === 4 ? [
      wire("Span", { className: "topic-nps-value band-" + nps[1] }, nps[0]),
      wire("Span", { className: "nps-bar" }, [
        wire("Span", { className: "nps-bar-zero" }),
        wire("Span", { className: "nps-bar-fill band-" + nps[1],
                       style: { left: nps[2], width: nps[3] } })])] : [
      wire("Span", { className: "topic-nps-value is-muted" }, nps[0]),
      wire("Span", { className: "topic-nps-note" }, nps[1])]);
    return wire("Div", { className: "topic-row" }, [
      wire("Div", { className: "topic-cell topic-name" }, cells[0]),
      wire("Div", { className: "topic-cell topic-mentions" }, cells[1]),
      toneCell,
      npsCell,
      wire("Div", { className: "topic-cell topic-delta " + change[3], title: change[4] }, [
        change[0] ? wire("Span", { className: "delta-arrow" }, change[0]) : null,
        wire("Span", { className: "delta-value" }, change[1]),
        change[2] ? wire("Span", { className: "delta-word" }, change[2]) : null]),
      wire("Div", { className: "topic-cell topic-detractors" }, cells[5]),
      wire("Div", { className: "topic-cell topic-impact " + impact[1] }, impact[0])]);
  }

  function drawTopics(body, data) {
    if (!data.rows) {
      drawPanelTree(body, [wire("Div", { className: "panel-message" }, data.message || "")]);
      return;
    }
    var header = wire("Div", { className: "topic-row topic-header" },
      data.headings.map(function (text, i) {
        return wire("Div", { className: "topic-cell topic-head-" + i }, text); }));
    drawPanelTree(body, [
      wire("Div", { id: "topics-table", className: "topics-table",
                    "data-rows": String(data.rows.length) },
           [header].concat(data.rows.map(topicRow))),
      data.note ? wire("Div", { className: "topics-more" }, data.note) : null]);
  }

  // -- the score panel (app/panels/score.py build_wall_score): its pieces as data (a new
  // response outside a screen's segments moves only its line against the rest), drawn as the
  // elements build_score_panel makes, by drawTree. Every text comes in the data.
  function scoreChange(id, base, data, valueClass) {
    // delta [arrow, magnitude, word, class, significant]; versus [arrow, magnitude, word,
    // caption, class, significant]
    var versus = data.length === 6;
    var css = versus ? data[4] : data[3];
    return wire("Div", { id: id, className: base + " " + css,
                         "data-significant": versus ? data[5] : data[4] }, versus ? [
      data[0] ? wire("Span", { className: "delta-arrow" }, data[0]) : null,
      data[1] ? wire("Span", { className: valueClass }, data[1]) : null,
      wire("Span", { className: "versus-word" }, data[2]),
      wire("Span", { className: "versus-caption" }, data[3])] : [
      data[0] ? wire("Span", { className: "delta-arrow" }, data[0]) : null,
      wire("Span", { className: valueClass }, data[1]),
      data[2] ? wire("Span", { className: "delta-word" }, data[2]) : null]);
  }

  function scoreFact(fact, id) {
    return wire("Div", id ? { className: "score-fact", id: id } : { className: "score-fact" }, [
      wire("Span", { className: "fact-value" }, fact[0]),
      wire("Span", { className: "fact-label" }, fact[1])]);
  }

  function scoreSplit(split) {
    return wire("Div", { id: "score-split", className: "score-split" }, [
      wire("Div", { className: "split-bar" }, split.map(function (part) {
        return wire("Div", { className: "split-segment split-" + part[1],
                             style: { width: part[2] }, title: part[4] }); })),
      wire("Div", { className: "split-legend" }, split.map(function (part) {
        return wire("Div", { className: "split-item split-item-" + part[1] }, [
          wire("Span", { className: "split-dot split-" + part[1] }),
          wire("Span", { className: "split-label" }, part[0]),
          wire("Span", { className: "split-pct" }, part[2]),
          wire("Span", { className: "split-count" }, part[3])]); }))]);
  }

  function scoreTree(data) {
    var follow = data.follow ? wire("Div", { id: "score-follow-ups", className: data.follow[1],
      "data-total": data.follow[2], "data-contacted": data.follow[3] }, data.follow[0]) : null;
    if (data.insufficient) {
      var none = data.insufficient;
      return [wire("Div", { className: "score-main score-insufficient" }, [
        wire("Div", { id: "score-value", className: "score-value is-insufficient",
                      "data-band": "none" }, none[0]),
        wire("Div", { className: "score-insufficient-detail" }, [
          wire("Span", { id: "score-responses", className: "insufficient-count" }, none[1]),
          wire("Span", {}, none[2])])]), follow];
    }
    var hero = data.hero;  // [score, band, spoken label, unit, margin, margin's title]
    return [
      wire("Div", { className: "score-main" }, [
        wire("Div", { className: "score-hero" }, [
          wire("Div", { id: "score-value", className: "score-value band-" + hero[1],
                        "data-band": hero[1], "aria-label": hero[2] }, hero[0]),
          wire("Div", { className: "score-hero-caption" }, [
            wire("Span", { className: "score-unit" }, hero[3]),
            wire("Span", { id: "score-margin", className: "score-margin", title: hero[5] },
                 hero[4])])]),
        wire("Div", { className: "score-side" }, [
          scoreChange("score-delta", "score-delta", data.delta, "delta-value"),
          wire("Div", { className: "score-side-caption" }, data.caption),
          data.versus ? scoreChange("score-versus-rest", "score-versus", data.versus,
                                    "versus-value") : null,
          wire("Div", { className: "score-facts" }, [scoreFact(data.facts[0], "score-responses"),
                                                      scoreFact(data.facts[1])])])]),
      scoreSplit(data.split),
      follow];
  }

  function drawScore(body, data) { drawPanelTree(body, scoreTree(data)); }

  // -- the comments' feed (app/panels/comments.py build_feed): its own small form, so a
  // card is drawn once and kept while it is shown, and the loop's copy is not sent.
  // cards: the element drawn for each card, by the card's data; newest: the first card's data
  var feed = { cards: {}, newest: null };

  function drawCard(card) {
    var category = String(card.category);
    var box = element("div", "comment-card");
    box.setAttribute("data-category", category);
    box.setAttribute("data-id", String(card.id));
    var badge = element("div", "comment-badge badge-" + category, card.score);
    badge.title = category;
    var words = element("div", "comment-body");
    words.appendChild(element("p", "comment-text", card.text));
    var meta = element("div", "comment-meta");
    var time = element("span", "rel-time", agoText(String(card.ts), Date.now()));
    time.setAttribute("data-ts", String(card.ts));
    meta.appendChild(time);
    (card.chips || []).forEach(function (chip) {
      var span = element("span", "chip chip-" + chip[1], chip[0]);
      if (chip[2]) { span.title = String(chip[2]); }
      meta.appendChild(span);
    });
    words.appendChild(meta);
    box.appendChild(badge);
    box.appendChild(words);
    return box;
  }

  function drawFeed(body, data) {
    if (!data.cards) {
      feed.cards = {};
      feed.newest = null;
      body.replaceChildren(element("div", "panel-message", data.message || ""));
      return;
    }
    var track = document.getElementById("comments-list");
    var newest = JSON.stringify(data.cards[0]);
    if (!track || !body.contains(track) || newest !== feed.newest) {
      // A new track for a new comment: the scroll starts again from the newest, and a low
      // power screen's paging from the top (both kept their place on the old track).
      var viewport = element("div", "comments-viewport");
      track = element("div", "comments-track");
      track.id = "comments-list";
      viewport.appendChild(track);
      body.replaceChildren(viewport);
    }
    feed.newest = newest;
    var kept = {};
    var cards = data.cards.map(function (card) {  // a card shown before keeps its element
      var key = JSON.stringify(card);
      var node = feed.cards[key] && !kept[key] ? feed.cards[key] : drawCard(card);
      kept[key] = node;
      return node;
    });
    feed.cards = kept;
    var nodes = cards.slice();
    if (data.scroll) {  // a hidden copy makes the loop seamless: the track moves up by half
      var copy = element("div", "comments-clone");
      copy.setAttribute("aria-hidden", "true");
      cards.forEach(function (node) { copy.appendChild(node.cloneNode(true)); });
      nodes.push(copy);
    }
    var className = data.scroll ? "comments-track is-scrolling" : "comments-track";
    if (track.className !== className) { track.className = className; }
    var duration = data.scroll ? data.seconds + "s" : "";
    if (track.style.animationDuration !== duration) { track.style.animationDuration = duration; }
    track.replaceChildren.apply(track, nodes);
    watchScroll();
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    nps_tv: { status: updateStatus, scale_figure: scaleFigure, gong: gong,
      draw_feed: drawer(drawFeed), draw_tree: drawer(drawPanelTree),
      draw_topics: drawer(drawTopics), draw_score: drawer(drawScore) }
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

  /* "4 min ago" for an ISO time at ``now`` (ms); null when it is not a time. */
  function agoText(ts, now) {
    var then = Date.parse(ts);
    return isNaN(then) ? null : formatAgo(now - then, then);
  }

  function refreshTimes() {
    var now = Date.now();
    var nodes = document.querySelectorAll("[data-ts]");
    for (var i = 0; i < nodes.length; i++) {
      var text = agoText(nodes[i].getAttribute("data-ts"), now);
      if (text !== null && nodes[i].textContent !== text) { nodes[i].textContent = text; }
    }
  }
  setInterval(refreshTimes, 5000);

  // -- pixel shift against burn-in: up to 3 px each way over twelve minutes, a pixel at a
  // time (each step is a transform: no layout). Off with ?shift=0 and in low power.
  var SHIFT_EVERY_MS = 30000;
  var SHIFT_PX = 3;
  function shiftStage(now) {
    var root = document.getElementById("tv-root");
    var stage = document.getElementById("tv-stage");
    if (!root || !stage) { return; }
    var t = (now || Date.now()) / 1000;
    var x = Math.round(SHIFT_PX * Math.sin(2 * Math.PI * t / 720));
    var y = Math.round(SHIFT_PX * Math.sin(2 * Math.PI * t / 540 + 1));
    var value = /\bno-shift\b/.test(root.className) ? "" : "translate(" + x + "px, " + y + "px)";
    if (stage.style.transform !== value) { stage.style.transform = value; }
  }
  setInterval(shiftStage, SHIFT_EVERY_MS);
  window.npsTv.shiftStage = shiftStage;

  // -- the comments' scroll: one CSS animation on the compositor (nps_tv.css), a step per
  // pixel of the half it moves. A ResizeObserver keeps that count right as cards come and go
  // or the screen changes size; nothing runs per frame.
  var scroll = { track: null, observer: null, steps: 0 };
  function watchScroll() {
    var track = document.getElementById("comments-list");
    if (track === scroll.track || !window.ResizeObserver) { return; }
    if (!scroll.observer) {
      scroll.observer = new window.ResizeObserver(function (entries) {
        var box = entries[entries.length - 1];
        var steps = Math.max(1, Math.round(box.target.offsetHeight / 2));
        box.target.style.setProperty("--scroll-steps", String(steps));
        scroll.steps = steps;
      });
    }
    if (scroll.track) { scroll.observer.unobserve(scroll.track); }
    scroll.track = track;
    if (track) { scroll.observer.observe(track); }
  }
  window.npsTv.scroll = scroll;
  window.npsTv.drawn = drawn;

  // -- low power: the comments turn a page every few seconds instead of scrolling ----------
  var PAGE_EVERY_MS = 12000;
  function pageComments() {
    var root = document.getElementById("tv-root");
    if (!root || !/\bis-low-power\b/.test(root.className)) { return; }
    var tracks = document.querySelectorAll(".tv-panel.is-active .comments-track");
    for (var i = 0; i < tracks.length; i++) {
      var track = tracks[i];
      var height = track.parentNode.clientHeight;
      var at = track.npsPage || 0;
      var next = 0;  // the first card not wholly shown starts the next page; after the last: top
      var cards = track.querySelectorAll(":scope > .comment-card");
      for (var c = 0; c < cards.length; c++) {
        var top = cards[c].offsetTop - track.offsetTop;
        if (top > at && top + cards[c].offsetHeight > at + height) { next = top; break; }
      }
      track.npsPage = next;
      track.style.transform = next ? "translateY(" + (-next) + "px)" : "";
    }
  }
  setInterval(pageComments, PAGE_EVERY_MS);
  window.npsTv.pageComments = pageComments;

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

  // -- staggered reloads: each screen waits its own stable share of a window, so a fleet
  // does not reload in the same second (NPS_TV_RELOAD_SPREAD_SECONDS and
  // NPS_TV_BUILD_RELOAD_SPREAD_SECONDS). The id is random once per browser, then kept.
  function screenId() {
    var id = null;
    try { id = window.localStorage.getItem("npsTvScreenId"); } catch (e) { /* private mode */ }
    if (!id) {
      id = "s" + Math.random().toString(36).slice(2, 12) + Date.now().toString(36);
      try { window.localStorage.setItem("npsTvScreenId", id); } catch (e) { /* fine */ }
    }
    return id;
  }

  /* Seconds into a window ``spread`` long: FNV-1a of the id (ASCII), mixed by murmur3's
   * finaliser, as app.live_status.reload_offset_seconds computes it. */
  function reloadOffset(id, spread) {
    var hash = 0x811c9dc5;
    for (var i = 0; i < id.length; i++) {
      hash = Math.imul(hash ^ (id.charCodeAt(i) & 0xff), 0x01000193) >>> 0;
    }
    hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b) >>> 0;
    hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35) >>> 0;
    hash = (hash ^ (hash >>> 16)) >>> 0;
    return hash / 4294967296 * Math.max(spread || 0, 0);
  }
  watchdog.screenId = screenId;
  watchdog.reloadOffset = reloadOffset;

  function spreadOf(root, name, salt) {
    var spread = parseFloat(root.getAttribute(name) || "0") || 0;
    return reloadOffset(screenId() + salt, spread) * 1000;
  }

  function checkHealth() {
    var root = document.getElementById("tv-root");
    if (!root || watchdog.busy) { return; }
    var pageBuild = root.getAttribute("data-build-id");
    rememberBuild(pageBuild);
    var reloadAt = parseInt(root.getAttribute("data-reload-at") || "0", 10);
    var nightlyAt = reloadAt + spreadOf(root, "data-reload-spread", ":nightly");
    if (reloadAt && Date.now() >= nightlyAt && !watchdog.want) { watchdog.want = "nightly"; }
    var poll = parseFloat(root.getAttribute("data-poll-seconds") || "3");
    var ask = (status.cfg && status.cfg.ask_seconds) || 1;  // a low-power screen asks less
    var silentFor = status.receivedAt ? (Date.now() - status.receivedAt) / 1000 : 0;
    // Where only the safety net's polls answer (ticks refused), one may fail before a reload.
    var safety = parseFloat(root.getAttribute("data-safety-ms") || "0") / 1000 || 0;
    if (silentFor > Math.max(10 * poll, 10 * ask, 60, 3 * safety) && !watchdog.want &&
        !recentlyReloadedFor("no data")) {
      watchdog.want = "no data";
    }
    // A wall that is told its tick (assets/nps_ask.js's stream) hears the server's build in
    // every event: it needs no /health of its own (a thousand screens: 100 requests a second).
    var told = window.npsAsk && window.npsAsk.streaming && window.npsAsk.body;
    if (told && Date.now() - (window.npsAsk.heardAt || 0) < HEALTH_EVERY_MS) {
      watchdog.fails = 0;
      judgeBuild(root, pageBuild, window.npsAsk.body.build);
      return;
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
        judgeBuild(root, pageBuild, body && body.build_id);
      })
      .catch(function () {
        watchdog.fails += 1;
        if (watchdog.fails >= HEALTH_FAILS && !watchdog.want) {
          watchdog.want = "server unreachable";
        }
      })
      .then(function () { watchdog.busy = false; });
  }

  /* The server runs ``build``: reload for a build never seen in this tab (workers of one
   * deploy may differ), at this screen's turn; and for whatever else is wanted. */
  function judgeBuild(root, pageBuild, build) {
    if (build && build !== pageBuild && readList("npsTvBuilds").indexOf(build) < 0 &&
        !watchdog.buildDue) {
      var wait = spreadOf(root, "data-build-spread", ":build");
      watchdog.buildDue = Date.now() + wait;
      watchdog.newBuild = build;
      if (wait > 0) { setTimeout(checkHealth, wait + 50); }  // on time, once /health is OK
    }
    if (watchdog.buildDue && Date.now() >= watchdog.buildDue) {
      rememberBuild(watchdog.newBuild);
      watchdog.want = watchdog.want || "new build";
    }
    if (watchdog.want) { reloadNow(watchdog.want); }
  }
  watchdog.check = checkHealth;
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
