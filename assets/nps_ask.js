/* NPS TV's wall asks cheaply (issue 13): every data-ask-ms it GETs its tick (app/ask.py), a
 * few hundred bytes or a bodiless 304, and only when the screen's stamp changes does it write
 * the tv-ask store, which runs the wall's Dash poll (the parts, sent as patches). Every answer
 * is also handed to nps_tv.js (npsTv.hear: staleness, data-source trouble, an admin's
 * reload), which paints the "updated" label and the connection notice and feeds the watchdog
 * without a Dash cycle (its /health check still reloads on a new build).
 * Refused share links: the fetch wrapper in nps_tv.js reads X-NPS-TV-Link on any answer. */
(function () {
  "use strict";

  var ask = { stamp: null, etag: null, body: null, busy: false, asks: 0, changes: 0,
    failures: 0 };
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
    var body = ask.body;
    if (!body) { return; }
    var age = parseFloat(response.headers.get("X-NPS-TV-Age"));
    var next = statusOf(body, isNaN(age) ? 0 : age);
    // A Dash cycle costs a TV stick more than anything else on the wall: nps_tv.js paints the
    // status itself, so an answer is handed to it and never runs one.
    window.npsTv.hear(next);
    if (window.npsTv && window.npsTv.access) { window.npsTv.access.refused = null; }
    if (body.stamp !== ask.stamp) {
      ask.stamp = body.stamp;
      ask.changes += 1;
      setProps("tv-ask", { data: body.stamp });
    }
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

  /* Asks while a wall is on the page (the app may show another page first). */
  function loop() {
    var root = document.getElementById("tv-root");
    var every = root ? parseInt(root.getAttribute("data-ask-ms") || "1000", 10) : 1000;
    once();
    setTimeout(loop, Math.max(every || 1000, 200));
  }
  loop();
})();
