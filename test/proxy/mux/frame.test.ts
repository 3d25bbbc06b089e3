// Frames of the sidecar-to-sidecar multiplexing protocol: whatever the read
// boundaries, the reader yields the frames that were written.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FRAME, FrameReader, frameHeader, MAX_PAYLOAD, MuxProtocolError, windowFrame } from '../../../src/proxy/mux/frame.js';

type Frame = [type: number, id: number, payload: string];

function encode(frames: Frame[]): Buffer {
  return Buffer.concat(
    frames.map(([type, id, payload]) => {
      const p = type === FRAME.window ? windowFrame(id, Number(payload)).subarray(9) : Buffer.from(payload);
      return Buffer.concat([frameHeader(type, id, p.length), p]);
    }),
  );
}

function decode(bytes: Buffer, chunkSizes: () => number): Frame[] {
  const out: Frame[] = [];
  const r = new FrameReader((type, id, payload) => {
    // DATA may come in pieces: join consecutive pieces of one stream (the frames below never repeat a stream back to back).
    const last = out[out.length - 1];
    if (type === FRAME.data && last && last[0] === FRAME.data && last[1] === id && piecesOpen) last[2] += payload.toString();
    else out.push([type, id, type === FRAME.window ? String(payload.readUInt32BE(0)) : payload.toString()]);
    piecesOpen = type === FRAME.data;
  });
  let piecesOpen = false;
  for (let off = 0; off < bytes.length; ) {
    const n = Math.max(1, Math.min(chunkSizes(), bytes.length - off));
    r.push(bytes.subarray(off, off + n));
    off += n;
  }
  return out;
}

describe('mux frames', () => {
  const frames: Frame[] = [
    [FRAME.data, 1, 'GET / HTTP/1.1\r\nhost: a\r\n\r\n'],
    [FRAME.data, 2, 'x'.repeat(70_000)],
    [FRAME.end, 1, ''],
    [FRAME.window, 2, '65536'],
    [FRAME.reset, 3, 'too many streams'],
    [FRAME.data, 4294967295, ''],
  ];
  const bytes = encode(frames);

  it('reads frames written in one piece', () => {
    assert.deepEqual(decode(bytes, () => bytes.length), frames);
  });

  it('reads frames split at every byte and at random boundaries', () => {
    assert.deepEqual(decode(bytes, () => 1), frames);
    for (let i = 0; i < 20; i++) assert.deepEqual(decode(bytes, () => 1 + Math.floor(Math.random() * 20_000)), frames);
  });

  it('hands a large DATA frame on as its reads arrive, never assembled', () => {
    const pieces: number[] = [];
    const r = new FrameReader((_t, _id, payload) => pieces.push(payload.length));
    const frame = Buffer.concat([frameHeader(FRAME.data, 7, 100_000), Buffer.alloc(100_000, 1)]);
    for (let off = 0; off < frame.length; off += 16_384) r.push(frame.subarray(off, off + 16_384));
    assert.equal(pieces.reduce((a, b) => a + b, 0), 100_000);
    assert.ok(pieces.length >= 6 && Math.max(...pieces) <= 16_384, `pieces ${pieces.join()}`);
  });

  it('refuses an unknown frame type and an oversized frame', () => {
    const r = new FrameReader(() => {});
    assert.throws(() => r.push(frameHeader(9, 1, 0)), MuxProtocolError);
    const r2 = new FrameReader(() => {});
    assert.throws(() => r2.push(frameHeader(FRAME.data, 1, MAX_PAYLOAD + 1)), /exceeds/);
    const r3 = new FrameReader(() => {});
    assert.throws(() => r3.push(frameHeader(FRAME.reset, 1, 64 * 1024)), /exceeds/);
  });
});
