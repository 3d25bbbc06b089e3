// Body framing: how many bytes belong to a message, fed in arbitrary pieces.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BodyTracker } from '../../../src/proxy/h1/body.js';

/** Feeds `text` in pieces of `step` bytes; returns bytes consumed and whether the body ended. */
function feed(t: BodyTracker, text: string, step: number): { consumed: number; done: boolean } {
  const buf = Buffer.from(text, 'latin1');
  let consumed = 0;
  for (let i = 0; i < buf.length && !t.done; i += step) {
    const piece = buf.subarray(i, Math.min(buf.length, i + step));
    consumed += t.consume(piece, 0);
  }
  return { consumed, done: t.done };
}

describe('body framing', () => {
  it('counts a Content-Length body and leaves the next message alone', () => {
    for (const step of [1, 3, 100]) {
      const r = feed(new BodyTracker({ kind: 'length', length: 5 }), 'helloGET / HTTP/1.1', step);
      assert.deepEqual(r, { consumed: 5, done: true });
    }
  });

  it('follows chunked framing with extensions and trailers, in pieces of any size', () => {
    const body = '4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n';
    for (const step of [1, 2, 7, 1000]) {
      const r = feed(new BodyTracker({ kind: 'chunked' }), body + 'NEXT', step);
      assert.deepEqual(r, { consumed: body.length, done: true }, `step ${step}`);
    }
  });

  it('rejects malformed chunk sizes', () => {
    assert.throws(() => feed(new BodyTracker({ kind: 'chunked' }), 'zz\r\n', 10));
    assert.throws(() => feed(new BodyTracker({ kind: 'chunked' }), '4\r\nabcdXY', 10));
    assert.throws(() => feed(new BodyTracker({ kind: 'chunked' }), 'fffffffffffffff\r\n', 100));
  });

  it('has nothing to read for a body-less message, and everything for a close-delimited one', () => {
    assert.equal(new BodyTracker({ kind: 'none' }).done, true);
    const t = new BodyTracker({ kind: 'close' });
    assert.equal(t.consume(Buffer.from('abc'), 0), 3);
    assert.equal(t.done, false);
  });
});
