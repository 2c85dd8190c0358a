/* NPS TV's wall asks cheaply (issue 13). It opens its tick stream (data-stream-path,
 * app/ask_stream.py: server-sent events of the tick, sent when it changes and every 5 s); where
 * that cannot open (a 204 from a server that does not keep streams, a refusal, a proxy) it
 * asks instead: every data-ask-ms it GETs its tick (app/ask.py), a few hundred bytes or a
 * bodiless 304, and tries the stream again a minute later. Only when the screen's stamp
 * changes does it write the tv-ask store, which runs the wall's Dash poll (the parts, sent as
 * patches); a pushed change waits a random part of data-ask-ms first, so a thousand screens
 * told at once fetch over that span as asking screens do. Every answer
 * is also handed to nps_tv.js (npsTv.hear: staleness, data-source trouble, an admin's
 * reload), which paints the "updated" label and the connection notice and feeds the watchdog
 * without a Dash cycle (its /health check still reloads on a new build).
 * The safety net: a wall whose poll has not run for data-safety-ms (and a random part of half
 * that again) polls all the same. It is timed from the page's last poll, asked or answered
 * from a push, not from its load: a told wall that keeps hearing of changes never needs it,
 * and a fleet that opened together (TVs on one timer) does not poll together every 30 s.
 * Refused share links: the fetch wrapper in nps_tv.js reads X-NPS-TV-Link on any answer. */
(function () {
  "use strict";

  var ask = { stamp: null, etag: null, body: null, busy: false, asks: 0, changes: 0,
    failures: 0, source: null, streaming: false, streamAt: 0, events: 0, heardAt: 0,
    pushed: null, served: 0, missed: 0, polledAt: 0, safetyAt: 0, safeties: 0, resyncs: 0,
    resyncAt: null, resyncable: false };
  var STATE_ID = "tv-state";  // the wall's client state (app/tv.py IDS.state)
  var STREAM_RETRY_MS = 60000;
  var BEHIND_RETRIES = 3;  // polls again when the answering worker was behind the told stamp
  var BEHIND_MS = 700;  // ... this long after the answer, times the retry's number
  var STREAM_SILENT_MS = 16000;  // three of the server's 5 s heartbeats missed: ask instead
  var SAFETY_SPREAD = 0.5;  // the safety net waits up to this part of its interval more
  var POLL_OUTPUT = ".." + STATE_ID + ".data..";  // in the wall's poll's outputs only
  var RESYNC_MS = 5000;  // the stream is reopened from the page's parts at most this often
  window.npsAsk = ask;

  function setProps(id, props) {
    var clientside = window.dash_clientside;
    if (clientside && clientside.set_props) { clientside.set_props(id, props); }
  }

  function statusOf(body, age) {
    var out = { ok: body.ok, age: body.ok === null ? null : age, hhmm: body.hhmm,
      trouble: body.trouble, error: body.error };
    if (body.reload) { out.reload = body.reload; }
    return out;
  }

  function heard(response) {
    var age = parseFloat(response.headers.get("X-NPS-TV-Age"));
    if (ask.body) { heardBody(ask.body, isNaN(age) ? 0 : age, 0); }
  }

  /* A tick's body (asked, or pushed with ``spread`` ms to fetch within). */
  function heardBody(body, age, spread) {
    var next = statusOf(body, age);
    // A Dash cycle costs a TV stick more than anything else on the wall: nps_tv.js paints the
    // status itself, so an answer is handed to it and never runs one.
    window.npsTv.hear(next);
    if (window.npsTv && window.npsTv.access) { window.npsTv.access.refused = null; }
    if (body.stamp !== ask.stamp) {
      var first = ask.stamp === null;
      ask.stamp = body.stamp;
      ask.retries = 0;
      ask.changes += 1;
      var pushed = ask.pushed && ask.pushed.stamp === body.stamp;
      if (first || !spread || pushed) {
        setProps("tv-ask", { data: body.stamp });
      } else {
        setTimeout(function () { setProps("tv-ask", { data: ask.stamp }); },
          Math.random() * spread);
      }
    }
  }

  function sameHashes(mine, pushed) {
    if (!mine || typeof mine !== "object") { return false; }
    var names = Object.keys(pushed);
    if (!names.length || Object.keys(mine).length !== names.length) { return false; }
    return names.every(function (name) { return mine[name] === pushed[name]; });
  }

  /* Whether data mark a ([database clock, id]) is later than b: the page's data came from a
   * worker or instance that had read more than the one whose answer was pushed. */
  function newer(a, b) {
    if (!a || !b || a.length !== 2 || b.length !== 2) { return false; }
    return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
  }

  /* The wall's Dash poll answered from the pushed answer, when the poll starts from the parts
   * that answer starts from (its state's data key and fingerprints) and has no newer data; a
   * number: it does not, ask the server that many ms from now (a random part of the ask
   * interval: screens that miss together do not all ask at once); null: not the wall's poll,
   * or nothing pushed. */
  ask.serve = function (input, init) {
    if (!init || typeof init.body !== "string" || init.body.indexOf(POLL_OUTPUT) < 0 ||
        !/_dash-update-component/.test(String((input && input.url) || input))) {
      return null;
    }
    polled();  // the wall's poll runs (asked, or answered here): the safety net starts again
    var pushed = ask.pushed;
    if (!pushed || pushed.stamp !== ask.stamp) { return null; }
    var request;
    try { request = JSON.parse(init.body); } catch (err) { return null; }
    if (String(request.output).indexOf(POLL_OUTPUT) < 0) { return null; }
    var state = stateOf(init);
    ask.pushed = null;  // one poll at most: a second asks the server
    if (!state || state.key !== pushed.key || !sameHashes(state.hashes, pushed.from) ||
        newer(state.mark, pushed.mark)) {
      ask.missed += 1;
      // Reopening the stream helps when its worker has the page's data (its record of the
      // page's parts is what is wrong), not when it is behind the page: it would push from
      // the page's parts down to its older ones, which the page refuses, and again.
      ask.resyncable = !!state && state.key === pushed.key && !newer(state.mark, pushed.mark);
      return Math.random() * askMs();
    }
    ask.served += 1;
    return new Response(pushed.text, { status: 200,
      headers: { "Content-Type": "application/json" } });
  };

  /* The poll that followed a push the page could not take was answered (``response``; the
   * poll's request ``init``): the page's parts are not the ones its stream pushes from (its
   * last poll reached a worker or instance at another snapshot, or it missed an event), and
   * the stream only knows what it sent, so every push after would miss as well. Reopen the
   * stream naming the parts the page has now (app/ask_stream.py HAD): its first event pushes
   * from them. At most once every RESYNC_MS (a clock the device's time being set cannot
   * move), only while a stream is open, and not when the stream's worker was behind the page
   * (``resyncable``). The ``had`` holds for that one connection: a reconnect goes without. */
  function resyncDue() {
    return ask.resyncable && ask.source && (ask.resyncAt === null ||
      performance.now() - ask.resyncAt >= RESYNC_MS);
  }
  ask.resync = function (response, init) {
    if (!resyncDue()) { return; }
    var before = stateOf(init);
    var read = response.status === 200 ? response.json() : Promise.resolve(null);
    read.then(function (body) {
      var sent = body && body.response && body.response[STATE_ID];
      var had = hadOf(sent && sent.data ? sent.data : before);
      if (!had || !resyncDue()) { return; }
      ask.resyncAt = performance.now();
      ask.resyncs += 1;
      closeStream();
      ask.streamAt = 0;
      stream(had);
    }).catch(function () { /* the stream stays as it was: the next miss tries again */ });
  };

  /* The wall's state in a poll's request (init.body), or null. */
  function stateOf(init) {
    var request, state = null;
    try { request = JSON.parse(init.body); } catch (err) { return null; }
    (request.state || []).forEach(function (item) {
      if (item && item.id === STATE_ID && item.property === "data") { state = item.value; }
    });
    return state;
  }

  /* A state's part fingerprints as the stream's ``had`` names them, or null. */
  function hadOf(state) {
    var hashes = state && state.hashes;
    if (!hashes || typeof hashes !== "object") { return null; }
    var names = Object.keys(hashes);
    if (!names.length || !names.every(function (n) { return typeof hashes[n] === "string"; })) {
      return null;
    }
    return names.map(function (n) { return n + ":" + hashes[n]; }).join(",");
  }

  /* The poll's answer came from a worker that had not caught up with the stamp this page was
   * told (its status says "behind"): poll again a little later, a few times at most (a new
   * value of the ask store runs the poll; the poll names ask.stamp all the same). */
  ask.retries = 0;
  ask.behind = function () {
    if (ask.stamp === null || ask.retries >= BEHIND_RETRIES) { return; }
    ask.retries += 1;
    var n = ask.retries;
    setTimeout(function () { setProps("tv-ask", { data: ask.stamp + "~" + n }); },
      BEHIND_MS * n);
  };

  /* The wall's poll ran just now: the safety net's next poll is due data-safety-ms (from
   * app/live_status.py SAFETY_NET_SECONDS) and a random part of half that again from now. */
  function polled() {
    var every = parseInt(rootAttr("data-safety-ms") || "30000", 10) || 30000;
    ask.polledAt = performance.now();  // a clock the device's time being set cannot move
    ask.safetyAt = ask.polledAt + every * (1 + SAFETY_SPREAD * Math.random());
  }
  ask.polled = polled;

  /* Nothing ran the wall's poll for the safety net's time: run it (a new value of the ask
   * store; the poll names ask.stamp all the same). */
  function safety() {
    ask.safeties += 1;
    polled();  // once a period, however long the poll takes to start
    setProps("tv-ask", { data: (ask.stamp === null ? "" : ask.stamp) + "~s" + ask.safeties });
  }

  /* How often the page asks (data-ask-ms, from app/live_status.py ask_seconds). */
  function askMs() { return parseInt(rootAttr("data-ask-ms") || "1000", 10) || 1000; }

  function rootAttr(name) {
    var root = document.getElementById("tv-root");
    return root ? root.getAttribute(name) : null;
  }

  /* Opens the tick stream; until it is open (and after it failed) the page asks. */
  function stream(had) {
    var path = rootAttr("data-stream-path");
    if (!path || !window.EventSource || ask.source) { return; }
    if (had) { path += (path.indexOf("?") < 0 ? "?" : "&") + "had=" + encodeURIComponent(had); }
    var source = new window.EventSource(path, { withCredentials: true });
    source.had = !!had;
    ask.source = source;
    source.onopen = function () { ask.streaming = true; ask.heardAt = Date.now(); };
    source.onmessage = function (e) {
      var body, cut = e.data.indexOf("\n");  // a second line: the poll's answer
      try { body = JSON.parse(cut < 0 ? e.data : e.data.slice(0, cut)); } catch (err) { return; }
      ask.events += 1;
      ask.heardAt = Date.now();
      if (body.refused) { closeStream(); return; }  // the next ask shows the refusal
      ask.streaming = true;
      ask.body = body;
      ask.etag = null;
      ask.pushed = cut < 0 || !body.push ? null : { stamp: body.stamp, key: body.push.key,
        from: body.push.from, mark: body.push.mark, text: e.data.slice(cut + 1) };
      heardBody(body, body.age || 0, askMs());
    };
    source.onerror = function () {
      // CLOSED: the server answered but not with a stream (204, 401/403, a proxy's 502):
      // ask instead. CONNECTING: the browser reconnects by itself; meanwhile, ask.
      ask.streaming = false;
      if (source.readyState === 2) { closeStream(); }
      // A stream opened naming the page's parts then is not reopened naming them again (the
      // browser's reconnect keeps the address): the page opens a plain one at its next ask.
      else if (source.had) { closeStream(); ask.streamAt = 0; }
    };
  }

  /* Whether the page's stream is open or about to be (its path known, not given up on for
   * now): its polls say so (X-NPS-TV-Streamed, nps_tv.js), the first too, which goes before
   * the stream opens. The worker that poll reaches builds ahead for the screen otherwise,
   * for two minutes, beside the stream's worker (app/part_cache.py, ActiveScreens). */
  ask.streamed = function () {
    return ask.streaming || !!ask.source || (!!rootAttr("data-stream-path") &&
      !!window.EventSource && Date.now() >= ask.streamAt);
  };

  function closeStream() {
    if (ask.source) { ask.source.close(); }
    ask.source = null;
    ask.streaming = false;
    ask.streamAt = Date.now() + STREAM_RETRY_MS;
  }

  function once() {
    var root = document.getElementById("tv-root");
    var path = root && root.getAttribute("data-ask-path");
    if (!path || ask.busy) { return; }
    ask.busy = true;
    ask.asks += 1;
    var headers = ask.etag && ask.body ? { "If-None-Match": ask.etag } : {};
    window.fetch(path, { cache: "no-store", credentials: "same-origin", headers: headers })
      .then(function (r) {
        if (r.status === 304) { return r; }
        if (!r.ok) { throw new Error("ask " + r.status); }
        return r.json().then(function (body) {
          ask.body = body;
          ask.etag = r.headers.get("ETag");
          return r;
        });
      })
      .then(function (r) { ask.failures = 0; heard(r); })
      .catch(function () { ask.failures += 1; })
      .then(function () { ask.busy = false; });
  }

  /* Asks while a wall is on the page (the app may show another page first) and its stream
   * is not open. */
  function loop() {
    setTimeout(loop, Math.max(askMs(), 200));  // first: nothing below may stop the asks
    if (ask.streaming && Date.now() - ask.heardAt > STREAM_SILENT_MS) { closeStream(); }
    if (!ask.source && Date.now() >= ask.streamAt) { stream(); }
    if (!ask.streaming) { once(); }
    // The safety net, on a wall only, timed from when the wall appeared (with its data) at
    // first: it polls even where no tick ever answers (a proxy refusing /api/v1/tick).
    if (rootAttr("data-ask-path")) {
      if (!ask.safetyAt) { polled(); } else if (performance.now() >= ask.safetyAt) { safety(); }
    }
  }
  loop();
})();
