// The bookstore demo apps' helpers: the example apps' kit (examples/lib) and
// a tiny server with a live counters page. Node 20 built-ins only: no
// dependencies, no build step.

import http from 'node:http';
import { errorText, listen, log, sendJson } from '../../lib/app-kit.mjs';

export * from '../../lib/app-kit.mjs';

/** A page that shows the /counters JSON and refreshes it every second. */
function page(title) {
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:15px system-ui,sans-serif;margin:2em}h1{font-size:1.4em}
table{border-collapse:collapse}td{border-bottom:1px solid #ddd;padding:.3em 1em .3em 0;vertical-align:top}
td:first-child{color:#555}td.n{font-size:1.5em;font-weight:600}pre{margin:0;white-space:pre-wrap;max-width:60em}</style>
</head><body><h1>${esc(title)}</h1><table id="t"><tr><td>loading…</td></tr></table>
<p><small>auto-refreshes every second from <a href="/counters">/counters</a></small></p>
<script>
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => '&#' + c.charCodeAt(0) + ';');
const cell = (v) => typeof v === 'number' ? '<td class="n">' + v + '</td>'
  : v && typeof v === 'object' ? '<td><pre>' + esc(Object.entries(v).map(([k, x]) => k + ': ' + x).join('\\n') || '—') + '</pre></td>'
  : '<td><pre>' + esc(v == null || v === '' ? '—' : v) + '</pre></td>';
async function tick() {
  try {
    const c = await (await fetch('/counters', { cache: 'no-store' })).json();
    document.getElementById('t').innerHTML = Object.entries(c).map(([k, v]) => '<tr><td>' + esc(k) + '</td>' + cell(v) + '</tr>').join('');
  } catch (e) { /* the app is restarting; try again next second */ }
}
tick(); setInterval(tick, 1000);
</script></body></html>
`;
}

/**
 * Serves `/` (live page), `/counters` (JSON of getCounters()), `/healthz`,
 * then `handler(req, res, url)`; a handler that returns false gives a 404.
 */
export function serve({ title, getCounters, handler = () => false }) {
  const html = page(title);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(html);
      }
      if (url.pathname === '/counters') return sendJson(res, 200, getCounters());
      if (url.pathname === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('ok\n');
      }
    }
    Promise.resolve(handler(req, res, url))
      .then((handled) => {
        if (handled === false) sendJson(res, 404, { error: 'not found', path: url.pathname });
      })
      .catch((err) => {
        log('handler error:', errorText(err));
        if (!res.headersSent) sendJson(res, 500, { error: errorText(err) });
        else res.destroy();
      });
  });
  return listen(server, title);
}
