// Header handling when a request or response is forwarded: hop-by-hop
// headers stay on their hop.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endToEndHeaders } from '../../src/proxy/forward.js';

describe('proxy forward headers', () => {
  it('drops the hop-by-hop headers and keeps the others in order and case', () => {
    const raw = [
      'Host', 'web.shop:80',
      'Connection', 'keep-alive',
      'Keep-Alive', 'timeout=5',
      'Proxy-Connection', 'keep-alive',
      'Proxy-Authorization', 'Basic eA==',
      'Proxy-Authenticate', 'Basic',
      'TE', 'trailers',
      'Trailer', 'x-checksum',
      'Transfer-Encoding', 'chunked',
      'Upgrade', 'websocket',
      'X-Request-Id', 'abc',
      'Accept', '*/*',
    ];
    assert.deepEqual(endToEndHeaders(raw), ['Host', 'web.shop:80', 'X-Request-Id', 'abc', 'Accept', '*/*']);
  });

  it('drops the headers that Connection lists, whatever their case', () => {
    const raw = ['Connection', 'close, X-Secret ,x-debug', 'x-secret', '1', 'X-Debug', '2', 'X-Keep', '3'];
    assert.deepEqual(endToEndHeaders(raw), ['X-Keep', '3']);
  });

  it('reads every Connection header', () => {
    const raw = ['Connection', 'x-a', 'connection', 'x-b', 'x-a', '1', 'x-b', '2', 'x-c', '3'];
    assert.deepEqual(endToEndHeaders(raw), ['x-c', '3']);
  });

  it('drops the extra names it is given (lower-case), such as a forged peer identity', () => {
    const raw = ['X-Trellis-Peer-Identity', 'spiffe://forged', 'x-ok', '1'];
    assert.deepEqual(endToEndHeaders(raw, new Set(['x-trellis-peer-identity'])), ['x-ok', '1']);
  });

  it('keeps repeated end-to-end headers', () => {
    const raw = ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'];
    assert.deepEqual(endToEndHeaders(raw), raw);
  });
});
