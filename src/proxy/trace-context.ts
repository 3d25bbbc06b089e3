// Trace context on the wire: W3C Trace Context (`traceparent`, `tracestate`)
// and Zipkin B3 (single `b3` header and the multi `x-b3-*` headers). Each
// proxy hop continues the caller's context (or starts a trace), takes a new
// span id for itself and sends the next hop its own span as the parent.
// docs/observability.md describes the behaviour; the call sites are
// src/proxy/call.ts (outbound and gateway) and src/proxy/inbound.ts.

import { randomBytes } from 'node:crypto';
import type { TracingSettings } from '../compiler/snapshot.js';
import type { TraceContext } from './telemetry.js';

/** A trace context read from request headers. */
export interface IncomingTrace {
  /** 32 lower-case hex digits (64-bit B3 ids left-padded with zeros); absent when only a sampling decision came. */
  traceId?: string;
  /** The caller's span (16 hex digits). */
  spanId?: string;
  /** The caller's parent, as B3 sent it (unused for W3C, which does not carry it). */
  parentSpanId?: string;
  /** The caller's decision; undefined = deferred to us. */
  sampled?: boolean;
  /** B3 debug (`b3: …-d`, `x-b3-flags: 1`): sampled, and passed on as debug. */
  debug?: boolean;
  /** W3C tracestate to pass on (only with a valid traceparent). */
  tracestate?: string;
  /** The B3 form the request came with: the next hop gets the same one. */
  b3?: 'single' | 'multi';
}

/** This hop: its span and the headers that carry it to the next hop. */
export interface TraceHop {
  context: TraceContext;
  debug: boolean;
  /** Headers for the next hop, [name, value, ...]: traceparent (+ tracestate, + B3 in the form that came). */
  headers: string[];
}

// ---- ids --------------------------------------------------------------------

const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;

/** `bytes` random bytes as lower-case hex, never all zeros (ids of zeros are invalid). */
function randomHex(bytes: number): string {
  for (;;) {
    if (poolOffset + bytes > POOL_SIZE) {
      pool = randomBytes(POOL_SIZE);
      poolOffset = 0;
    }
    const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
    poolOffset += bytes;
    if (!isZeros(hex)) return hex;
  }
}

/** A new 128-bit trace id (32 hex digits). */
export function newTraceId(): string {
  return randomHex(16);
}

/** A new 64-bit span id (16 hex digits). */
export function newSpanId(): string {
  return randomHex(8);
}

function isZeros(hex: string): boolean {
  for (let i = 0; i < hex.length; i++) if (hex.charCodeAt(i) !== 48) return false;
  return true;
}

/** Lower-case hex digits only. */
function isLowerHex(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

// ---- W3C Trace Context ------------------------------------------------------

/**
 * Parses a `traceparent` header as W3C Trace Context level 1 defines it:
 * `version-traceid-parentid-flags`, lower-case hex, version `ff` invalid,
 * all-zero ids invalid; version 00 is exactly 55 characters; a later version
 * may carry more fields after a `-`, of which the first four are read.
 * Undefined when invalid (the caller then starts a new trace).
 */
export function parseTraceparent(value: string): { traceId: string; spanId: string; sampled: boolean } | undefined {
  const v = value.trim();
  if (v.length < 55) return undefined;
  if (v[2] !== '-' || v[35] !== '-' || v[52] !== '-') return undefined;
  const version = v.slice(0, 2);
  if (!isLowerHex(version) || version === 'ff') return undefined;
  if (version === '00' ? v.length !== 55 : v.length > 55 && v[55] !== '-') return undefined;
  const traceId = v.slice(3, 35);
  const spanId = v.slice(36, 52);
  const flags = v.slice(53, 55);
  if (!isLowerHex(traceId) || !isLowerHex(spanId) || !isLowerHex(flags)) return undefined;
  if (isZeros(traceId) || isZeros(spanId)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** A version 00 `traceparent`: the span is the parent of the next hop's. */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

// ---- B3 -----------------------------------------------------------------------

/** A B3 trace id (16 or 32 hex digits, case-insensitive) as 32 lower-case digits; undefined when invalid. */
function b3TraceId(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const id = s.trim().toLowerCase();
  if ((id.length !== 16 && id.length !== 32) || !isLowerHex(id) || isZeros(id)) return undefined;
  return id.length === 16 ? '0000000000000000' + id : id;
}

function b3SpanId(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const id = s.trim().toLowerCase();
  return id.length === 16 && isLowerHex(id) && !isZeros(id) ? id : undefined;
}

/** `b3: {traceid}-{spanid}[-{sampled}[-{parentspanid}]]` or `b3: {sampled}`; sampled is 1, 0 or d. */
export function parseB3Single(value: string): IncomingTrace | undefined {
  const parts = value.trim().split('-');
  const sampling = (s: string | undefined): { sampled?: boolean; debug?: boolean } | undefined => {
    if (s === undefined) return {};
    if (s === '1') return { sampled: true };
    if (s === '0') return { sampled: false };
    if (s === 'd') return { sampled: true, debug: true };
    return undefined;
  };
  if (parts.length === 1) {
    const s = sampling(parts[0]);
    return s && s.sampled !== undefined ? { ...s, b3: 'single' } : undefined;
  }
  if (parts.length > 4) return undefined;
  const traceId = b3TraceId(parts[0]);
  const spanId = b3SpanId(parts[1]);
  const s = sampling(parts[2]);
  if (!traceId || !spanId || !s) return undefined;
  const out: IncomingTrace = { traceId, spanId, ...s, b3: 'single' };
  if (parts.length === 4) {
    const parent = b3SpanId(parts[3]);
    if (!parent) return undefined;
    out.parentSpanId = parent;
  }
  return out;
}

/** `x-b3-traceid`, `x-b3-spanid`, `x-b3-parentspanid`, `x-b3-sampled` (1/0, true/false), `x-b3-flags` (1 = debug). */
export function parseB3Multi(headers: Readonly<Record<string, string>>): IncomingTrace | undefined {
  const flags = headers['x-b3-flags'];
  const sampledHeader = headers['x-b3-sampled']?.trim().toLowerCase();
  const debug = flags?.trim() === '1';
  let sampled: boolean | undefined;
  if (debug || sampledHeader === '1' || sampledHeader === 'true') sampled = true;
  else if (sampledHeader === '0' || sampledHeader === 'false') sampled = false;
  const rawTrace = headers['x-b3-traceid'];
  if (rawTrace === undefined) return sampled === undefined ? undefined : { sampled, ...(debug ? { debug } : {}), b3: 'multi' };
  const traceId = b3TraceId(rawTrace);
  const spanId = b3SpanId(headers['x-b3-spanid']);
  if (!traceId || !spanId) return undefined;
  const out: IncomingTrace = { traceId, spanId, b3: 'multi' };
  if (sampled !== undefined) out.sampled = sampled;
  if (debug) out.debug = true;
  const parent = headers['x-b3-parentspanid'];
  if (parent !== undefined) {
    const p = b3SpanId(parent);
    if (!p) return undefined;
    out.parentSpanId = p;
  }
  return out;
}

/** The B3 single header for the next hop. */
export function formatB3Single(traceId: string, spanId: string, sampled: boolean, debug: boolean, parentSpanId?: string): string {
  const s = debug ? 'd' : sampled ? '1' : '0';
  return parentSpanId ? `${traceId}-${spanId}-${s}-${parentSpanId}` : `${traceId}-${spanId}-${s}`;
}

// ---- incoming context and this hop --------------------------------------------

/**
 * The context a request carries. A valid `traceparent` wins (with its
 * `tracestate`); otherwise B3 single, then B3 multi. Either way the B3 form
 * that came is remembered so that the next hop gets it too.
 */
export function parseIncoming(headers: Readonly<Record<string, string>>): IncomingTrace | undefined {
  const b3Value = headers['b3'];
  const b3 = b3Value !== undefined ? parseB3Single(b3Value) : parseB3Multi(headers);
  const form: IncomingTrace['b3'] = b3Value !== undefined ? 'single' : headers['x-b3-traceid'] !== undefined || headers['x-b3-sampled'] !== undefined || headers['x-b3-flags'] !== undefined ? 'multi' : undefined;
  const tp = headers['traceparent'];
  const w3c = tp !== undefined ? parseTraceparent(tp) : undefined;
  if (w3c) {
    const out: IncomingTrace = { ...w3c };
    const ts = headers['tracestate'];
    if (ts !== undefined && ts.trim() !== '') out.tracestate = ts;
    // A debug flag sent alongside the same trace in B3 still counts.
    if (b3?.debug && b3.traceId === w3c.traceId) {
      out.debug = true;
      out.sampled = true;
    }
    if (form) out.b3 = form;
    return out;
  }
  if (b3) return b3;
  return form ? { b3: form } : undefined;
}

/** Every trace header a hop replaces: dropped from the request, then written anew. */
export const TRACE_HEADERS: readonly string[] = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'];

/**
 * This hop of the request, or undefined when tracing is off for it: sampling
 * at 0 % and no incoming sampled context (then the headers pass untouched and
 * nothing is parsed beyond three lookups). The sampling decision is made only
 * at the root: an incoming decision is kept, an incoming context without one
 * gets ours.
 */
/**
 * traceHop for a parsed request, which tells at parse time whether a trace
 * header came: with none and sampling off, its header map is never built.
 */
export function requestTraceHop(settings: TracingSettings | undefined, req: { readonly traceHeaders: boolean; readonly headers: Readonly<Record<string, string>> }): TraceHop | undefined {
  if (!req.traceHeaders && !((settings?.samplingPercent ?? 0) > 0)) return undefined;
  return traceHop(settings, req.headers);
}

export function traceHop(settings: TracingSettings | undefined, headers: Readonly<Record<string, string>>): TraceHop | undefined {
  const percent = settings?.samplingPercent ?? 0;
  if (percent <= 0 && headers['traceparent'] === undefined && headers['b3'] === undefined && headers['x-b3-traceid'] === undefined) return undefined;
  const incoming = parseIncoming(headers);
  if (percent <= 0 && incoming?.sampled !== true) return undefined;
  const sampled = incoming?.sampled ?? (percent >= 100 || Math.random() * 100 < percent);
  const debug = incoming?.debug === true;
  const context: TraceContext = incoming?.traceId
    ? { traceId: incoming.traceId, spanId: newSpanId(), parentSpanId: incoming.spanId!, sampled }
    : { traceId: newTraceId(), spanId: newSpanId(), sampled };
  if (incoming?.tracestate !== undefined) context.tracestate = incoming.tracestate;
  const out = ['traceparent', formatTraceparent(context.traceId, context.spanId, sampled)];
  if (context.tracestate !== undefined) out.push('tracestate', context.tracestate);
  if (incoming?.b3 === 'single') out.push('b3', formatB3Single(context.traceId, context.spanId, sampled, debug, context.parentSpanId));
  else if (incoming?.b3 === 'multi') {
    out.push('x-b3-traceid', context.traceId, 'x-b3-spanid', context.spanId);
    if (context.parentSpanId) out.push('x-b3-parentspanid', context.parentSpanId);
    if (debug) out.push('x-b3-flags', '1');
    else out.push('x-b3-sampled', sampled ? '1' : '0');
  }
  return { context, debug, headers: out };
}

const withTraceDrops = new WeakMap<ReadonlySet<string>, ReadonlySet<string>>();

/** `drop` plus every trace header (cached per set: the usual sets are constants). */
function dropTraceHeaders(drop: ReadonlySet<string>): ReadonlySet<string> {
  let d = withTraceDrops.get(drop);
  if (!d) {
    d = new Set([...drop, ...TRACE_HEADERS]);
    withTraceDrops.set(drop, d);
  }
  return d;
}

/** A forward decision's header edits with this hop's trace headers in place of the incoming ones. */
export function withTraceHeaders(hop: TraceHop, drop: ReadonlySet<string>, add: string[] | undefined): { drop: ReadonlySet<string>; add: string[] } {
  return { drop: dropTraceHeaders(drop), add: add ? add.concat(hop.headers) : hop.headers };
}
