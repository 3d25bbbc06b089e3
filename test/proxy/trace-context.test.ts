// Trace context on the wire: W3C traceparent validation (examples from the
// W3C Trace Context spec and its test suite), B3 single and multi (examples
// from openzipkin/b3-propagation), and what one hop sends on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatTraceparent,
  newSpanId,
  newTraceId,
  parseB3Multi,
  parseB3Single,
  parseIncoming,
  parseTraceparent,
  TRACE_HEADERS,
  traceHop,
  withTraceHeaders,
} from '../../src/proxy/trace-context.js';

const ON = { samplingPercent: 100 };
const OFF = { samplingPercent: 0 };
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

/** [name, value, ...] → map. */
function asMap(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}

describe('W3C traceparent', () => {
  it('parses the spec example, sampled and not', () => {
    assert.deepEqual(parseTraceparent(`00-${TRACE}-${PARENT}-01`), { traceId: TRACE, spanId: PARENT, sampled: true });
    assert.deepEqual(parseTraceparent(`00-${TRACE}-${PARENT}-00`), { traceId: TRACE, spanId: PARENT, sampled: false });
    // Only bit 0 is the sampled flag.
    assert.equal(parseTraceparent(`00-${TRACE}-${PARENT}-09`)?.sampled, true);
    assert.equal(parseTraceparent(`00-${TRACE}-${PARENT}-08`)?.sampled, false);
  });

  it('refuses what the spec calls invalid', () => {
    const invalid = [
      `ff-${TRACE}-${PARENT}-01`, // version ff
      `00-${TRACE.toUpperCase()}-${PARENT}-01`, // upper-case hex
      `00-${TRACE}-${PARENT.toUpperCase()}-01`,
      `00-00000000000000000000000000000000-${PARENT}-01`, // all-zero trace id
      `00-${TRACE}-0000000000000000-01`, // all-zero parent id
      `00-${TRACE}-${PARENT}-01-extra`, // version 00 has exactly four fields
      `00-${TRACE}-${PARENT}-1`, // short flags
      `00-${TRACE.slice(1)}-${PARENT}-01`, // short trace id
      `00_${TRACE}-${PARENT}-01`, // wrong delimiter
      `0g-${TRACE}-${PARENT}-01`, // non-hex version
      `00-${TRACE}-${PARENT}-0x`, // non-hex flags
      `00-${TRACE}-${PARENT}-01, 00-${TRACE}-${PARENT}-01`, // two headers joined
      '',
    ];
    for (const v of invalid) assert.equal(parseTraceparent(v), undefined, v);
  });

  it('reads the first four fields of a later version', () => {
    assert.deepEqual(parseTraceparent(`cc-${TRACE}-${PARENT}-01-what-the-future-will-be-like`), { traceId: TRACE, spanId: PARENT, sampled: true });
    assert.deepEqual(parseTraceparent(`01-${TRACE}-${PARENT}-00`), { traceId: TRACE, spanId: PARENT, sampled: false });
    assert.equal(parseTraceparent(`cc-${TRACE}-${PARENT}-01x`), undefined);
  });

  it('formats version 00', () => {
    assert.equal(formatTraceparent(TRACE, PARENT, true), `00-${TRACE}-${PARENT}-01`);
    assert.equal(formatTraceparent(TRACE, PARENT, false), `00-${TRACE}-${PARENT}-00`);
  });
});

describe('B3', () => {
  it('parses the single header with and without parent and sampling state', () => {
    assert.deepEqual(parseB3Single('80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90'), {
      traceId: '80f198ee56343ba864fe8b2a57d3eff7',
      spanId: 'e457b5a2e4d86bd1',
      parentSpanId: '05e3ac9a4f6e3b90',
      sampled: true,
      b3: 'single',
    });
    assert.deepEqual(parseB3Single('80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1'), {
      traceId: '80f198ee56343ba864fe8b2a57d3eff7',
      spanId: 'e457b5a2e4d86bd1',
      b3: 'single',
    });
    assert.deepEqual(parseB3Single('80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d'), {
      traceId: '80f198ee56343ba864fe8b2a57d3eff7',
      spanId: 'e457b5a2e4d86bd1',
      sampled: true,
      debug: true,
      b3: 'single',
    });
  });

  it('left-pads a 64-bit trace id to 128 bits', () => {
    assert.equal(parseB3Single('a3ce929d0e0e4736-00f067aa0ba902b7-1')?.traceId, '0000000000000000a3ce929d0e0e4736');
    assert.equal(parseB3Multi({ 'x-b3-traceid': 'a3ce929d0e0e4736', 'x-b3-spanid': PARENT })?.traceId, '0000000000000000a3ce929d0e0e4736');
  });

  it('takes a sampling decision alone (b3: 0, b3: 1, b3: d)', () => {
    assert.deepEqual(parseB3Single('0'), { sampled: false, b3: 'single' });
    assert.deepEqual(parseB3Single('1'), { sampled: true, b3: 'single' });
    assert.deepEqual(parseB3Single('d'), { sampled: true, debug: true, b3: 'single' });
  });

  it('refuses malformed single headers', () => {
    for (const v of ['x', `${TRACE}`, `${TRACE}-${PARENT}-2`, `${TRACE}-short`, `${TRACE}-${PARENT}-1-bad`, `${TRACE}-${PARENT}-1-${PARENT}-more`, `${'0'.repeat(32)}-${PARENT}-1`]) {
      assert.equal(parseB3Single(v), undefined, v);
    }
  });

  it('parses the multi headers, sampled, flags and parent', () => {
    assert.deepEqual(
      parseB3Multi({
        'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7',
        'x-b3-spanid': 'e457b5a2e4d86bd1',
        'x-b3-parentspanid': '05e3ac9a4f6e3b90',
        'x-b3-sampled': '1',
      }),
      { traceId: '80f198ee56343ba864fe8b2a57d3eff7', spanId: 'e457b5a2e4d86bd1', parentSpanId: '05e3ac9a4f6e3b90', sampled: true, b3: 'multi' },
    );
    assert.equal(parseB3Multi({ 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-sampled': 'false' })?.sampled, false);
    assert.deepEqual(parseB3Multi({ 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-flags': '1' }), { traceId: TRACE, spanId: PARENT, sampled: true, debug: true, b3: 'multi' });
    assert.deepEqual(parseB3Multi({ 'x-b3-sampled': '0' }), { sampled: false, b3: 'multi' });
    assert.equal(parseB3Multi({ 'x-b3-traceid': TRACE }), undefined, 'a trace id needs a span id');
    assert.equal(parseB3Multi({}), undefined);
  });
});

describe('the incoming context', () => {
  it('prefers a valid traceparent and keeps tracestate with it', () => {
    const h = { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE', b3: `80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0` };
    assert.deepEqual(parseIncoming(h), { traceId: TRACE, spanId: PARENT, sampled: true, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE', b3: 'single' });
  });

  it('falls back to B3 when traceparent is invalid, and drops tracestate with it', () => {
    const h = { traceparent: 'garbage', tracestate: 'rojo=1', 'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7', 'x-b3-spanid': 'e457b5a2e4d86bd1', 'x-b3-sampled': '1' };
    assert.deepEqual(parseIncoming(h), { traceId: '80f198ee56343ba864fe8b2a57d3eff7', spanId: 'e457b5a2e4d86bd1', sampled: true, b3: 'multi' });
  });
});

describe('one hop', () => {
  it('does nothing when sampling is 0 and the request carries no sampled context', () => {
    assert.equal(traceHop(OFF, {}), undefined);
    assert.equal(traceHop(undefined, {}), undefined);
    assert.equal(traceHop(OFF, { traceparent: `00-${TRACE}-${PARENT}-00` }), undefined);
    assert.equal(traceHop(OFF, { b3: '0' }), undefined);
  });

  it('continues a sampled context even at 0 %', () => {
    const hop = traceHop(OFF, { traceparent: `00-${TRACE}-${PARENT}-01` })!;
    assert.equal(hop.context.traceId, TRACE);
    assert.equal(hop.context.parentSpanId, PARENT);
    assert.equal(hop.context.sampled, true);
  });

  it('starts a trace at the root with a new 128-bit id and sends traceparent only', () => {
    const hop = traceHop(ON, { host: 'x' })!;
    assert.match(hop.context.traceId, /^[0-9a-f]{32}$/);
    assert.match(hop.context.spanId, /^[0-9a-f]{16}$/);
    assert.equal(hop.context.parentSpanId, undefined);
    assert.equal(hop.context.sampled, true);
    assert.deepEqual(hop.headers, ['traceparent', `00-${hop.context.traceId}-${hop.context.spanId}-01`]);
  });

  it('continues a W3C context: same trace, new span, the caller as parent, tracestate passed on', () => {
    const hop = traceHop(ON, { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'congo=t61rcWkgMzE' })!;
    assert.equal(hop.context.traceId, TRACE);
    assert.equal(hop.context.parentSpanId, PARENT);
    assert.notEqual(hop.context.spanId, PARENT);
    assert.deepEqual(asMap(hop.headers), { traceparent: `00-${TRACE}-${hop.context.spanId}-01`, tracestate: 'congo=t61rcWkgMzE' });
  });

  it('keeps the caller\'s decision not to sample (the decision is made at the root only)', () => {
    const hop = traceHop(ON, { traceparent: `00-${TRACE}-${PARENT}-00` })!;
    assert.equal(hop.context.sampled, false);
    assert.equal(asMap(hop.headers).traceparent, `00-${TRACE}-${hop.context.spanId}-00`);
    // A new trace whose root is not sampled still carries the decision on.
    const root = traceHop({ samplingPercent: 1e-9 }, {})!;
    assert.equal(root.context.sampled, false);
    assert.match(asMap(root.headers).traceparent!, /-00$/);
  });

  it('answers B3 single with B3 single (and traceparent), this hop as the span and the caller as its parent', () => {
    const hop = traceHop(ON, { b3: `a3ce929d0e0e4736-${PARENT}-1` })!;
    const trace = '0000000000000000a3ce929d0e0e4736';
    const id = hop.context.spanId;
    assert.deepEqual(asMap(hop.headers), { traceparent: `00-${trace}-${id}-01`, b3: `${trace}-${id}-1-${PARENT}` });
  });

  it('answers B3 multi with B3 multi; debug is passed on as x-b3-flags', () => {
    const hop = traceHop(ON, { 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-sampled': '1' })!;
    const id = hop.context.spanId;
    assert.deepEqual(asMap(hop.headers), { traceparent: `00-${TRACE}-${id}-01`, 'x-b3-traceid': TRACE, 'x-b3-spanid': id, 'x-b3-parentspanid': PARENT, 'x-b3-sampled': '1' });
    const debug = traceHop(OFF, { 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-flags': '1' })!;
    assert.equal(asMap(debug.headers)['x-b3-flags'], '1');
    assert.equal(asMap(debug.headers)['x-b3-sampled'], undefined);
  });

  it('starts a trace with the decision of a lone b3: 0, in the same form', () => {
    const hop = traceHop(ON, { b3: '0' })!;
    assert.equal(hop.context.sampled, false);
    assert.equal(asMap(hop.headers).b3, `${hop.context.traceId}-${hop.context.spanId}-0`);
  });

  it('samples new traces at the configured percentage', () => {
    let sampled = 0;
    for (let i = 0; i < 4000; i++) if (traceHop({ samplingPercent: 25 }, {})!.context.sampled) sampled++;
    assert.ok(sampled > 800 && sampled < 1200, `${sampled} of 4000 at 25 %`);
  });

  it('replaces the incoming trace headers in the forward decision', () => {
    const hop = traceHop(ON, {})!;
    const base = new Set(['x-trellis-peer-identity']);
    const { drop, add } = withTraceHeaders(hop, base, ['x-trellis-peer-identity', 'spiffe://a']);
    assert.deepEqual([...drop].sort(), ['x-trellis-peer-identity', ...TRACE_HEADERS].sort());
    assert.deepEqual(add, ['x-trellis-peer-identity', 'spiffe://a', ...hop.headers]);
    assert.equal(withTraceHeaders(hop, base, undefined).drop, drop, 'the drop set is cached per base set');
    assert.equal(withTraceHeaders(hop, base, undefined).add, hop.headers);
  });

  it('makes distinct random ids', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2000; i++) ids.add(newSpanId());
    assert.equal(ids.size, 2000);
    const traces = new Set<string>();
    for (let i = 0; i < 1000; i++) traces.add(newTraceId());
    assert.equal(traces.size, 1000);
    for (const t of traces) assert.match(t, /^[0-9a-f]{32}$/);
  });
});
