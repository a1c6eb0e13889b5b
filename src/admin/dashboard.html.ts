// The admin listener's dashboard (`GET /`): one self-contained page, inline CSS and
// script, no external resource (its Content-Security-Policy allows none). It polls
// `/stats` once a second and derives rates from counter deltas; sparklines are
// inline SVG drawn here. Every element carrying a figure has a stable
// `data-metric` attribute (its raw value in `data-value`), for tests and scrapers.
// URLs shown (top misses, upstream names) are set as text, never as markup.
//
// Keep the embedded script free of backquotes and dollar-brace: it lives in a
// template literal.

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Strata dashboard</title>
<link rel="icon" href="data:,">
<style>
  :root { --bg: #0f1419; --panel: #171d24; --line: #2a323c; --fg: #d8dee6; --dim: #8b96a3; --ok: #3fb950; --warn: #d29922; --bad: #f85149; --accent: #58a6ff; }
  * { box-sizing: border-box; }
  body { margin: 0; padding: 16px; background: var(--bg); color: var(--fg); font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
  header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; margin-bottom: 12px; }
  h1 { font-size: 18px; margin: 0; }
  h2 { font-size: 12px; margin: 0 0 8px; color: var(--dim); text-transform: uppercase; letter-spacing: .06em; font-weight: 600; }
  .dim { color: var(--dim); }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
  .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px; }
  .wide { grid-column: 1 / -1; }
  .big { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .kv { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; font-variant-numeric: tabular-nums; }
  .kv dt { color: var(--dim); }
  .kv dd { margin: 0; text-align: right; }
  svg.spark { width: 100%; height: 36px; display: block; margin-top: 6px; }
  svg.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
  .bar { height: 6px; background: var(--line); border-radius: 3px; margin: 2px 0 8px; overflow: hidden; }
  .bar > div { height: 100%; background: var(--accent); width: 0; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--dim); font-weight: 500; }
  td.num, th.num { text-align: right; }
  td.url { white-space: normal; word-break: break-all; font-family: ui-monospace, monospace; font-size: 12px; }
  .state-healthy { color: var(--ok); } .state-probation { color: var(--warn); } .state-ejected, .state-unhealthy { color: var(--bad); }
  #status.err { color: var(--bad); }
</style>
</head>
<body>
<header>
  <h1>Strata</h1>
  <span>node <b data-metric="node">…</b></span>
  <span class="dim">up <span data-metric="uptime">…</span></span>
  <span class="dim">peers: <span data-metric="peers">not clustered</span></span>
  <span id="status" class="dim" data-metric="status">connecting…</span>
</header>
<div class="grid">
  <section class="panel">
    <h2>Hit ratio</h2>
    <div class="big" data-metric="hit-ratio">–</div>
    <div class="dim">hits ÷ (hits + misses + stale) since start; line: each second, last minute</div>
    <svg class="spark" data-spark="hit-ratio" viewBox="0 0 120 36" preserveAspectRatio="none"><polyline points=""/></svg>
  </section>
  <section class="panel">
    <h2>Requests / s</h2>
    <div class="big" data-metric="requests-per-s">–</div>
    <svg class="spark" data-spark="requests-per-s" viewBox="0 0 120 36" preserveAspectRatio="none"><polyline points=""/></svg>
  </section>
  <section class="panel">
    <h2>Bytes / s served</h2>
    <div class="big" data-metric="bytes-per-s">–</div>
    <svg class="spark" data-spark="bytes-per-s" viewBox="0 0 120 36" preserveAspectRatio="none"><polyline points=""/></svg>
  </section>
  <section class="panel">
    <h2>Requests</h2>
    <dl class="kv">
      <dt>received</dt><dd data-metric="requests">–</dd>
      <dt>hits</dt><dd data-metric="hits">–</dd>
      <dt>misses</dt><dd data-metric="misses">–</dd>
      <dt>stale (revalidated)</dt><dd data-metric="stale">–</dd>
      <dt>bypass</dt><dd data-metric="bypass">–</dd>
      <dt>collapsed</dt><dd data-metric="collapsed">–</dd>
      <dt>stored</dt><dd data-metric="stored">–</dd>
      <dt>errors</dt><dd data-metric="errors">–</dd>
      <dt>bad requests</dt><dd data-metric="badRequests">–</dd>
      <dt>bytes served</dt><dd data-metric="bytesServed">–</dd>
    </dl>
  </section>
  <section class="panel">
    <h2>Latency</h2>
    <p class="dim" data-metric="latency-note">Latency by outcome is not in /stats: see <code>strata_request_duration_seconds</code> on /metrics. Origin latency (peak EWMA) per upstream is below.</p>
  </section>
  <section class="panel">
    <h2>Tiers</h2>
    <div>memory <span class="dim"><span data-metric="memory-items">–</span> items, <span data-metric="memory-bytes">–</span> of <span data-metric="memory-max-bytes">–</span></span></div>
    <div class="bar"><div data-bar="memory"></div></div>
    <div>disk <span class="dim"><span data-metric="disk-items">–</span> items, <span data-metric="disk-bytes">–</span> of <span data-metric="disk-max-bytes">–</span></span></div>
    <div class="bar"><div data-bar="disk"></div></div>
    <dl class="kv">
      <dt>evictions (memory / disk)</dt><dd><span data-metric="memory-evictions">–</span> / <span data-metric="disk-evictions">–</span></dd>
      <dt>disk writes queued</dt><dd data-metric="disk-writes-queued">–</dd>
      <dt>disk writes shed</dt><dd data-metric="disk-writes-shed">–</dd>
      <dt>disk index</dt><dd data-metric="disk-loading">–</dd>
    </dl>
  </section>
  <section class="panel">
    <h2>Purges</h2>
    <dl class="kv">
      <dt>purge requests</dt><dd data-metric="purges">–</dd>
      <dt>entries purged</dt><dd data-metric="purged">–</dd>
      <dt>invalidations</dt><dd data-metric="invalidations">–</dd>
    </dl>
  </section>
  <section class="panel wide">
    <h2>Upstreams <span class="dim" data-metric="balancer"></span></h2>
    <table>
      <thead><tr><th>upstream</th><th>state</th><th class="num">in flight</th><th class="num">EWMA</th><th class="num">requests</th><th class="num">failures</th></tr></thead>
      <tbody data-metric="upstreams"></tbody>
    </table>
  </section>
  <section class="panel wide">
    <h2>Top missed URLs</h2>
    <table>
      <thead><tr><th class="num">misses</th><th>primary key</th></tr></thead>
      <tbody data-metric="top-misses"></tbody>
    </table>
  </section>
</div>
<script>
"use strict";
(function () {
  var HISTORY = 60;
  var series = { 'hit-ratio': [], 'requests-per-s': [], 'bytes-per-s': [] };
  var prev = null;
  var polls = 0;

  function q(metric) { return document.querySelector('[data-metric="' + metric + '"]'); }
  function fmtInt(n) { return Math.round(n).toLocaleString('en-US'); }
  function fmtBytes(n) {
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? Math.round(n) : n.toFixed(1)) + ' ' + u[i];
  }
  function fmtDuration(s) {
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    return d ? d + 'd ' + h + 'h' : h ? h + 'h ' + m + 'm' : m + 'm ' + (s % 60) + 's';
  }
  function pct(x) { return (x * 100).toFixed(1) + ' %'; }
  /** Set a figure: raw value in data-value, formatted text shown. */
  function set(metric, value, fmt) {
    var el = q(metric);
    if (!el) return;
    el.setAttribute('data-value', String(value));
    el.textContent = fmt ? fmt(value) : String(value);
  }
  function push(name, v) {
    var s = series[name];
    s.push(v);
    if (s.length > HISTORY) s.shift();
    var max = 0;
    for (var i = 0; i < s.length; i++) if (s[i] > max) max = s[i];
    if (name === 'hit-ratio') max = 1;
    var pts = [];
    for (var j = 0; j < s.length; j++) {
      var x = (HISTORY - s.length + j) * (120 / (HISTORY - 1));
      var y = 34 - (max > 0 ? (s[j] / max) * 32 : 0);
      pts.push(x.toFixed(1) + ',' + y.toFixed(1));
    }
    document.querySelector('[data-spark="' + name + '"] polyline').setAttribute('points', pts.join(' '));
  }
  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function tier(name, t) {
    set(name + '-items', t.items, fmtInt);
    set(name + '-bytes', t.bytes, fmtBytes);
    set(name + '-max-bytes', t.maxBytes, fmtBytes);
    set(name + '-evictions', t.evictions, fmtInt);
    var bar = document.querySelector('[data-bar="' + name + '"]');
    bar.style.width = (t.maxBytes > 0 ? Math.min(100, t.bytes / t.maxBytes * 100) : 0) + '%';
  }

  function render(s, at) {
    var c = s;
    set('node', s.node);
    set('uptime', s.uptimeS, fmtDuration);
    set('peers', s.peers && s.peers.clustered ? 'clustered' : 'not clustered');
    ['requests', 'hits', 'misses', 'stale', 'bypass', 'collapsed', 'stored', 'errors', 'badRequests', 'purges', 'purged', 'invalidations']
      .forEach(function (k) { set(k, c[k], fmtInt); });
    set('bytesServed', c.bytesServed, fmtBytes);
    var looked = c.hits + c.misses + c.stale;
    var el = q('hit-ratio');
    if (looked > 0) set('hit-ratio', c.hits / looked, pct);
    else { el.setAttribute('data-value', ''); el.textContent = 'no lookups yet'; }

    if (prev) {
      var dt = (at - prev.at) / 1000;
      if (dt > 0) {
        var rps = Math.max(0, (c.requests - prev.s.requests) / dt);
        var bps = Math.max(0, (c.bytesServed - prev.s.bytesServed) / dt);
        set('requests-per-s', rps, function (v) { return v.toFixed(1); });
        set('bytes-per-s', bps, function (v) { return fmtBytes(v) + '/s'; });
        push('requests-per-s', rps);
        push('bytes-per-s', bps);
        var dh = c.hits - prev.s.hits, dl = looked - (prev.s.hits + prev.s.misses + prev.s.stale);
        var hr = series['hit-ratio'];
        push('hit-ratio', dl > 0 ? dh / dl : hr.length ? hr[hr.length - 1] : 0);
      }
    }
    prev = { s: s, at: at };

    tier('memory', s.tiers.memory);
    tier('disk', s.tiers.disk);
    set('disk-writes-queued', s.tiers.disk.writesQueued, fmtInt);
    set('disk-writes-shed', s.tiers.disk.writesShed, fmtInt);
    set('disk-loading', s.tiers.disk.loading ? 'loading' : 'loaded');

    set('balancer', s.origin.balancer ? '(' + s.origin.balancer + ')' : '');
    var body = q('upstreams');
    body.replaceChildren();
    (s.origin.upstreams || []).forEach(function (u) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-upstream', u.name);
      cell(tr, u.name);
      cell(tr, u.state + (u.available ? '' : ' (unavailable)'), 'state-' + u.state).setAttribute('data-metric', 'upstream-state');
      cell(tr, String(u.inFlight), 'num').setAttribute('data-metric', 'upstream-in-flight');
      cell(tr, u.ewmaMs.toFixed(1) + ' ms', 'num').setAttribute('data-metric', 'upstream-ewma-ms');
      cell(tr, fmtInt(u.requests), 'num').setAttribute('data-metric', 'upstream-requests');
      cell(tr, fmtInt(u.failures), 'num').setAttribute('data-metric', 'upstream-failures');
      body.appendChild(tr);
    });

    var top = q('top-misses');
    top.replaceChildren();
    var misses = s.topMisses || [];
    if (misses.length === 0) {
      var tr0 = document.createElement('tr');
      cell(tr0, '');
      cell(tr0, 'no misses yet', 'dim');
      top.appendChild(tr0);
    }
    misses.forEach(function (m) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-metric', 'top-miss');
      cell(tr, fmtInt(m.misses), 'num').setAttribute('data-value', String(m.misses));
      cell(tr, m.key, 'url');
      top.appendChild(tr);
    });
  }

  function poll() {
    var at = performance.now();
    fetch('stats', { cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (r) {
        if (!r.ok) throw new Error('/stats answered ' + r.status);
        return r.json();
      })
      .then(function (s) {
        render(s, at);
        polls++;
        var st = q('status');
        st.className = 'dim';
        st.setAttribute('data-value', String(polls));
        st.textContent = 'live · polled ' + new Date().toLocaleTimeString('en-GB');
      })
      .catch(function (err) {
        var st = q('status');
        st.className = 'err';
        st.textContent = 'cannot read /stats: ' + err.message;
      })
      .then(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
</script>
</body>
</html>
`;
