// HTTP/1.1 heads as the sidecar's engine reads and rewrites them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeadError, headEnd, parseRequestHead, parseResponseHead, serializeHead } from '../../../src/proxy/h1/head.js';

const req = (text: string) => {
  const buf = Buffer.from(text, 'latin1');
  return parseRequestHead(buf, headEnd(buf));
};
const res = (text: string, method = 'GET') => {
  const buf = Buffer.from(text, 'latin1');
  return parseResponseHead(buf, headEnd(buf), method);
};

describe('request heads', () => {
  it('waits for the blank line, then parses method, target, headers and framing', () => {
    assert.equal(headEnd(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n')), -1);
    const r = req('POST http://web.shop:80/x?y=1 HTTP/1.1\r\nHost: web.shop:80\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\n');
    assert.equal(r.method, 'POST');
    assert.equal(r.target, 'http://web.shop:80/x?y=1');
    assert.equal(r.headers['host'], 'web.shop:80');
    assert.equal(r.headers['x-a'], '1, 2');
    assert.deepEqual(r.framing, { kind: 'length', length: 5 });
    assert.equal(r.close, false);
  });

  it('treats HTTP/1.0 without keep-alive, and Connection: close, as closing', () => {
    assert.equal(req('GET / HTTP/1.0\r\n\r\n').close, true);
    assert.equal(req('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n').close, false);
    assert.equal(req('GET / HTTP/1.1\r\nConnection: Close\r\n\r\n').close, true);
  });

  it('refuses smuggling shapes and what it does not serve, with the right status', () => {
    const status = (text: string) => {
      try {
        req(text);
        return 0;
      } catch (err) {
        return (err as HeadError).status;
      }
    };
    assert.equal(status('POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'), 400);
    assert.equal(status('POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\n'), 400);
    assert.equal(status('POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n'), 400);
    assert.equal(status('GET / HTTP/1.1\r\nHost : a\r\n\r\n'), 400);
    assert.equal(status('GET / HTTP/2.0\r\n\r\n'), 505);
    assert.equal(status('GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n'), 501);
    assert.throws(() => headEnd(Buffer.alloc(70 * 1024, 'a')), (e: HeadError) => e.status === 431);
  });
});

describe('response heads', () => {
  it('knows which responses have no body and which end with the connection', () => {
    assert.deepEqual(res('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'HEAD').framing, { kind: 'none' });
    assert.deepEqual(res('HTTP/1.1 204 No Content\r\n\r\n').framing, { kind: 'none' });
    assert.deepEqual(res('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n').framing, { kind: 'none' });
    assert.deepEqual(res('HTTP/1.1 100 Continue\r\n\r\n').framing, { kind: 'none' });
    const eof = res('HTTP/1.1 200 OK\r\n\r\n');
    assert.deepEqual(eof.framing, { kind: 'close' });
    assert.equal(eof.close, true);
    const chunked = res('HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.equal(chunked.status, 201);
    assert.equal(chunked.reason, 'Created');
    assert.deepEqual(chunked.framing, { kind: 'chunked' });
  });
});

describe('response heads on the hot path', () => {
  it('frames from the few headers that frame, and still gives the whole map to whoever asks', () => {
    const r = res('HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-LENGTH:  12 \r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n');
    assert.deepEqual(r.framing, { kind: 'length', length: 12 });
    assert.equal(r.close, false);
    assert.equal(r.connection, 'keep-alive, X-Hop');
    assert.deepEqual({ ...r.headers }, { server: 'nginx', 'content-length': '12', connection: 'keep-alive, X-Hop', 'x-hop': '1', 'set-cookie': 'a=1, b=2' });
    assert.equal(
      serializeHead('HTTP/1.1 200 OK', r, r.connection).toString('latin1'),
      'HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-LENGTH:  12 \r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n',
    );
  });
});

describe('serialising a head for the next hop', () => {
  it('drops hop-by-hop headers and those Connection names, keeps the framing and the rest in order', () => {
    const r = req(
      'GET / HTTP/1.1\r\nHost: web.shop:80\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\n' +
        'Proxy-Connection: keep-alive\r\nTE: trailers\r\nX-Secret: 1\r\nTransfer-Encoding: chunked\r\nX-Request-Id: abc\r\n\r\n',
    );
    assert.equal(
      serializeHead('GET / HTTP/1.1', r, r.headers['connection']).toString('latin1'),
      'GET / HTTP/1.1\r\nHost: web.shop:80\r\nTransfer-Encoding: chunked\r\nX-Request-Id: abc\r\n\r\n',
    );
  });

  it('drops the names it is told to (a forged peer identity) and appends what it adds', () => {
    const r = req('GET / HTTP/1.1\r\nX-Trellis-Peer-Identity: spiffe://forged\r\nx-ok: 1\r\n\r\n');
    assert.equal(
      serializeHead('GET / HTTP/1.1', r, r.headers['connection'], new Set(['x-trellis-peer-identity']), ['x-trellis-peer-identity', 'spiffe://real']).toString('latin1'),
      'GET / HTTP/1.1\r\nx-ok: 1\r\nx-trellis-peer-identity: spiffe://real\r\n\r\n',
    );
  });

  it('copies the kept header lines byte for byte from the head it was parsed from, and adds after them', () => {
    const bytes = Buffer.from('GET /a HTTP/1.1\r\nHost: h\r\nX-Latin: caf\xe9 \r\nConnection: close\r\nX-Last:1\r\n\r\nBODY', 'latin1');
    const r = parseRequestHead(bytes, headEnd(bytes));
    const out = serializeHead('GET /b HTTP/1.1', r, r.headers['connection'], undefined, ['x-added', 'yes']);
    assert.deepEqual(out, Buffer.from('GET /b HTTP/1.1\r\nHost: h\r\nX-Latin: caf\xe9 \r\nX-Last:1\r\nx-added: yes\r\n\r\n', 'latin1'));
    // With nothing to drop, the head is the original one.
    const plain = Buffer.from('GET /a HTTP/1.1\r\nHost: h\r\nX-Spaced:   1  \r\n\r\n', 'latin1');
    assert.deepEqual(serializeHead('GET /a HTTP/1.1', parseRequestHead(plain, headEnd(plain)), undefined), plain);
  });

  it('passes an unchanged head on as a view of the bytes it came in, and copies one that changes', () => {
    const bytes = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-A: 1\r\n\r\nBODY', 'latin1');
    const end = headEnd(bytes);
    const h = parseResponseHead(bytes, end, 'GET');
    const same = serializeHead('HTTP/1.1 200 OK', h, h.connection);
    assert.equal(same.toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-A: 1\r\n\r\n');
    // Each change makes a copy with that change only.
    const copies: [Buffer, string][] = [
      [serializeHead('HTTP/1.1 200 Fine', h, h.connection), 'HTTP/1.1 200 Fine\r\nContent-Length: 4\r\nX-A: 1\r\n\r\n'],
      [serializeHead('HTTP/1.1 200 OK', h, h.connection, new Set(['x-a'])), 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n'],
      [serializeHead('HTTP/1.1 200 OK', h, h.connection, undefined, ['x-b', '2']), 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-A: 1\r\nx-b: 2\r\n\r\n'],
    ];
    for (const [out, text] of copies) assert.equal(out.toString('latin1'), text);
    // The view sees a change to the bytes it came from; the copies do not.
    bytes[Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-').length] = 0x5a;
    assert.match(same.toString('latin1'), /X-Z: 1/);
    for (const [out] of copies) assert.doesNotMatch(out.toString('latin1'), /X-Z/);
    // A start line that only begins the same way is a different one.
    const bare = Buffer.from('HTTP/1.1 200 OKAY\r\n\r\n', 'latin1');
    const b = parseResponseHead(bare, headEnd(bare), 'GET');
    assert.equal(serializeHead('HTTP/1.1 200 OK', b, b.connection).toString('latin1'), 'HTTP/1.1 200 OK\r\n\r\n');
    // A head without header lines passes through too.
    const bareSame = serializeHead('HTTP/1.1 200 OKAY', b, b.connection);
    bare[9] = 0x33;
    assert.equal(bareSame.toString('latin1'), 'HTTP/1.1 300 OKAY\r\n\r\n');
  });
});

describe('header lines that could split on the next hop', () => {
  it('refuses a bare LF or CR inside a header line', () => {
    for (const bad of ['GET / HTTP/1.1\r\nX-A: 1\nInjected: 2\r\n\r\n', 'GET / HTTP/1.1\r\nX-A: 1\rInjected: 2\r\n\r\n']) {
      assert.throws(() => req(bad), (e: unknown) => e instanceof HeadError && e.status === 400, JSON.stringify(bad));
    }
  });
});

describe('what the engine reads from a request head without its header map', () => {
  it('gives host, connection and whether a trace header came, and the whole map on demand', () => {
    const r = req('GET / HTTP/1.1\r\nHOST: web.shop\r\nConnection: Keep-Alive\r\nX-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7\r\nX-A: 1\r\n\r\n');
    assert.equal(r.host, 'web.shop');
    assert.equal(r.connection, 'Keep-Alive');
    assert.equal(r.close, false);
    assert.equal(r.traceHeaders, true);
    assert.deepEqual({ ...r.headers }, { host: 'web.shop', connection: 'Keep-Alive', 'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7', 'x-a': '1' });
    const plain = req('GET / HTTP/1.0\r\nhost: a\r\nhost: b\r\ntracestate: x=1\r\n\r\n');
    assert.equal(plain.host, 'a, b');
    assert.equal(plain.traceHeaders, false, 'tracestate alone carries no context');
    assert.equal(plain.close, true, 'HTTP/1.0 without keep-alive closes');
  });

  it('still refuses upgrades, found by the same pass', () => {
    assert.throws(() => req('GET / HTTP/1.1\r\nUPGRADE: websocket\r\n\r\n'), (e: unknown) => e instanceof HeadError && e.status === 501);
  });
});

describe('finding the end of a head', () => {
  it('finds and parses a head longer than the part searched as text, and one that arrives behind a large body read', () => {
    const long = `GET / HTTP/1.1\r\nhost: a\r\nx-big: ${'v'.repeat(10_000)}\r\n\r\n`;
    const buf = Buffer.from(long + 'BODY', 'latin1');
    const end = headEnd(buf);
    assert.equal(end, long.length);
    const r = parseRequestHead(buf, end);
    assert.equal(r.headers['x-big']!.length, 10_000);
    assert.equal(r.host, 'a');
    // A head found in one buffer is not mistaken for another's.
    const a = Buffer.from('GET /a HTTP/1.1\r\nhost: a\r\n\r\n', 'latin1');
    const b = Buffer.from('GET /b HTTP/1.1\r\nhost: b\r\n\r\n', 'latin1');
    headEnd(a);
    assert.equal(parseRequestHead(b, headEnd(b)).target, '/b');
    assert.equal(parseRequestHead(a, a.length).target, '/a');
  });
});

describe('names compared in place', () => {
  it('matches the engine\'s headers in any case and nothing else of the same length', () => {
    const r = req('POST / HTTP/1.1\r\nCoNtEnT-LeNgTh: 5\r\ncontent-lengtX: 7\r\nhosT: a\r\nhoss: b\r\n\r\n');
    assert.deepEqual(r.framing, { kind: 'length', length: 5 });
    assert.equal(r.host, 'a');
    assert.deepEqual(r.raw, ['CoNtEnT-LeNgTh', '5', 'content-lengtX', '7', 'hosT', 'a', 'hoss', 'b']);
  });
});

describe('start lines', () => {
  it('takes HTTP/1.0 and HTTP/1.1 request lines and refuses other versions and shapes', () => {
    assert.equal(req('GET /x HTTP/1.0\r\n\r\n').minor, 0);
    assert.equal(req('GET /x y HTTP/1.1\r\n\r\n').target, '/x y');
    for (const [line, status] of [['GET / HTTP/2.0', 505], ['GET / HTTP/1.10', 505], ['GET / HTTP/1.2', 505], ['GET', 400], ['GET /', 400]] as const) {
      assert.throws(() => req(`${line}\r\nhost: a b\r\n\r\n`), (e: unknown) => e instanceof HeadError && e.status === status, line);
    }
  });

  it('reads status codes digit by digit and keeps the reason phrase', () => {
    assert.equal(res('HTTP/1.1 204\r\n\r\n').reason, '');
    assert.equal(res('HTTP/1.0 503 Service Unavailable\r\n\r\n').status, 503);
    for (const bad of ['HTTP/1.1 2x0 OK', 'HTTP/1.1 20', 'HTTP/1.1 099 Low', 'HTTP/2 200 OK']) {
      assert.throws(() => res(`${bad}\r\n\r\n`), (e: unknown) => e instanceof HeadError && e.status === 502, bad);
    }
  });
});
