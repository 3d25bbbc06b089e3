// HTTP/1.1 message heads, parsed in place from the bytes on the wire. The
// proxy's hot path needs only the start line, the headers it routes and
// authorises on, and the body framing; everything else is passed through.

import { LIMITS } from '../limits.js';

const MAX_HEAD_BYTES = LIMITS.maxHeaderBytes;

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Body framing of a message. */
export type Framing =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  /** Response body delimited by the connection closing. */
  | { kind: 'close' };

/** A parsed head as the text and bytes it came in: what serializeHead copies from. */
export interface HeadBytes {
  /** The head as latin1 text (a character is a byte): start line and header lines, without the blank line. */
  readonly text: string;
  /**
   * Per header, FIELD_STRIDE offsets into `text` (and `bytes`): line start,
   * colon, value start, value end (surrounding whitespace trimmed), line end
   * (past its CRLF). Names and values are sliced only when someone asks.
   */
  readonly fields: number[];
  /** The bytes the head was parsed from (they may go on past its end). */
  readonly bytes: Buffer;
}

export const FIELD_STRIDE = 5;

export interface MessageHead extends HeadBytes {
  /** Raw header lines, [name, value, ...], as received (made on first use). */
  readonly raw: string[];
  /** Lower-case name → value (repeated headers joined with ", "). */
  headers: Record<string, string>;
  framing: Framing;
  /** The peer asked to close after this message (Connection: close, or HTTP/1.0 without keep-alive). */
  close: boolean;
  /** HTTP/1.x minor version. */
  minor: number;
}

export interface RequestHead extends MessageHead {
  method: string;
  /** Request target as sent (origin-form or absolute-form). */
  target: string;
  /** The Host header (repeated ones joined with ", "). */
  host: string | undefined;
  /** The Connection header (serializeHead drops what it names). */
  connection: string | undefined;
  /** A trace context header came with it (traceparent, b3, x-b3-traceid). */
  traceHeaders: boolean;
}

export interface ResponseHead extends MessageHead {
  status: number;
  reason: string;
  /** The Connection header (serializeHead drops what it names). */
  connection: string | undefined;
}

export class HeadError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Index just past the head's blank line, or -1 when the head is not complete yet. */
export function headEnd(buf: Buffer): number {
  // Searched as text: the parse that follows takes the same string (one
  // conversion, no Buffer search). Only the first SCAN_BYTES are converted.
  const scanned = buf.length <= SCAN_BYTES ? buf.toString('latin1') : buf.toString('latin1', 0, SCAN_BYTES);
  let i = scanned.indexOf('\r\n\r\n');
  if (i >= 0) {
    lastScan = buf;
    lastText = scanned;
  } else if (buf.length > SCAN_BYTES) i = buf.indexOf(CRLFCRLF);
  if (i < 0) {
    if (buf.length > MAX_HEAD_BYTES) throw new HeadError(431, 'request head too large');
    return -1;
  }
  if (i + 4 > MAX_HEAD_BYTES) throw new HeadError(431, 'request head too large');
  return i + 4;
}

/** Bytes headEnd converts to text before falling back to a Buffer search (heads are rarely longer). */
const SCAN_BYTES = 8 * 1024;
/** The buffer headEnd last found a head in, and its text, for the parse that follows (same turn, same buffer). */
let lastScan: Buffer | undefined;
let lastText = '';

/** Whitespace a header value may have around it (RFC 9110: SP and HTAB). */
function isOws(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * Header lines of `text` from index `from` (just after the start line's CRLF)
 * to its end, as FIELD_STRIDE offsets per header into `fields`.
 */
function parseHeaderLines(text: string, from: number, fields: number[]): void {
  const n = text.length;
  let pos = from;
  while (pos < n) {
    let eol = text.indexOf('\r\n', pos);
    if (eol < 0) eol = n;
    if (eol === pos) {
      pos += 2;
      continue;
    }
    // A lone CR or LF inside a line could end it for the next hop (RFC 9110 5.5): refuse it.
    const lf = text.indexOf('\n', pos);
    const cr = text.indexOf('\r', pos);
    if ((lf >= 0 && lf < eol) || (cr >= 0 && cr < eol)) throw new HeadError(400, 'bare CR or LF in a header line');
    const colon = text.indexOf(':', pos);
    if (colon <= pos || colon > eol) throw new HeadError(400, 'malformed header line');
    if (isOws(text.charCodeAt(colon - 1))) throw new HeadError(400, 'whitespace before a header colon');
    // Trim the value's surrounding whitespace by index: no intermediate strings.
    let vs = colon + 1;
    let ve = eol;
    while (vs < ve && isOws(text.charCodeAt(vs))) vs++;
    while (ve > vs && isOws(text.charCodeAt(ve - 1))) ve--;
    fields.push(pos, colon, vs, ve, eol + 2);
    pos = eol + 2;
  }
}

/** [name, value, ...] of the parsed header lines. */
function rawOf(text: string, fields: readonly number[]): string[] {
  const raw: string[] = [];
  for (let f = 0; f < fields.length; f += FIELD_STRIDE) raw.push(text.slice(fields[f], fields[f + 1]), text.slice(fields[f + 2], fields[f + 3]));
  return raw;
}

/** Whether the name at text[start, start + lower.length) is `lower`, ignoring ASCII case (the caller checked the length). */
function nameIs(text: string, start: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    // `| 0x20` folds A–Z onto a–z; a CR (the only other byte folding onto '-') cannot be in a name.
    if ((text.charCodeAt(start + i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Lower-case name → value, repeated headers joined with ", ". */
function headerMap(raw: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    const prev = headers[lower];
    headers[lower] = prev === undefined ? raw[i + 1]! : `${prev}, ${raw[i + 1]}`;
  }
  return headers;
}

/** The headers the engine itself reads, found in one pass without building the whole map (one fixed shape). */
interface KeyHeaders {
  'connection': string | undefined;
  'content-length': string | undefined;
  'transfer-encoding': string | undefined;
  'upgrade': string | undefined;
  'host': string | undefined;
  /** A trace context header came (traceparent, b3, x-b3-traceid). */
  trace: boolean;
}

function joined(prev: string | undefined, value: string): string {
  return prev === undefined ? value : `${prev}, ${value}`;
}

function keyHeaders(text: string, fields: readonly number[]): KeyHeaders {
  const h: KeyHeaders = { 'connection': undefined, 'content-length': undefined, 'transfer-encoding': undefined, 'upgrade': undefined, 'host': undefined, trace: false };
  for (let f = 0; f < fields.length; f += FIELD_STRIDE) {
    const start = fields[f]!;
    // Only names of these lengths can be one of them: most lines are passed over without a string made.
    switch (fields[f + 1]! - start) {
      case 2:
        if (!h.trace && nameIs(text, start, 'b3')) h.trace = true;
        break;
      case 11:
        if (!h.trace && nameIs(text, start, 'traceparent')) h.trace = true;
        break;
      case 12:
        if (!h.trace && nameIs(text, start, 'x-b3-traceid')) h.trace = true;
        break;
      case 4:
        if (nameIs(text, start, 'host')) h.host = joined(h.host, text.slice(fields[f + 2], fields[f + 3]));
        break;
      case 7:
        if (nameIs(text, start, 'upgrade')) h.upgrade = joined(h.upgrade, text.slice(fields[f + 2], fields[f + 3]));
        break;
      case 10:
        if (nameIs(text, start, 'connection')) h.connection = joined(h.connection, text.slice(fields[f + 2], fields[f + 3]));
        break;
      case 14:
        if (nameIs(text, start, 'content-length')) h['content-length'] = joined(h['content-length'], text.slice(fields[f + 2], fields[f + 3]));
        break;
      case 17:
        if (nameIs(text, start, 'transfer-encoding')) h['transfer-encoding'] = joined(h['transfer-encoding'], text.slice(fields[f + 2], fields[f + 3]));
        break;
    }
  }
  return h;
}

/**
 * What request and response heads share: the text and bytes they came in,
 * and their header lines and map, made only for those who ask (header
 * matches, filters, hashing, tracing, response edits).
 */
abstract class ParsedHead implements MessageHead {
  private rawLines: string[] | undefined;
  private all: Record<string, string> | undefined;

  constructor(
    readonly minor: number,
    readonly text: string,
    readonly fields: number[],
    readonly bytes: Buffer,
    readonly framing: Framing,
    readonly close: boolean,
  ) {}

  get raw(): string[] {
    return (this.rawLines ??= rawOf(this.text, this.fields));
  }

  get headers(): Record<string, string> {
    return (this.all ??= headerMap(this.raw));
  }
}

class ParsedRequestHead extends ParsedHead implements RequestHead {
  constructor(
    readonly method: string,
    readonly target: string,
    minor: number,
    text: string,
    fields: number[],
    bytes: Buffer,
    readonly host: string | undefined,
    readonly connection: string | undefined,
    readonly traceHeaders: boolean,
    framing: Framing,
    close: boolean,
  ) {
    super(minor, text, fields, bytes, framing, close);
  }
}

class ParsedResponseHead extends ParsedHead implements ResponseHead {
  constructor(
    readonly status: number,
    readonly reason: string,
    minor: number,
    text: string,
    fields: number[],
    bytes: Buffer,
    readonly connection: string | undefined,
    framing: Framing,
    close: boolean,
  ) {
    super(minor, text, fields, bytes, framing, close);
  }
}

/** Framings without a length are shared (nobody changes a Framing). */
const NO_BODY: Framing = Object.freeze({ kind: 'none' });
const CHUNKED: Framing = Object.freeze({ kind: 'chunked' });
const UNTIL_CLOSE: Framing = Object.freeze({ kind: 'close' });

function tokenList(v: string | undefined): string[] {
  return v === undefined ? [] : v.toLowerCase().split(',').map((t) => t.trim());
}

function bodyFraming(headers: Readonly<Record<string, string | undefined>> | KeyHeaders): Framing | undefined {
  const te = headers['transfer-encoding'];
  if (te !== undefined) {
    const codings = tokenList(te);
    if (codings[codings.length - 1] !== 'chunked') throw new HeadError(400, 'unsupported transfer-encoding');
    // Content-Length with Transfer-Encoding is a smuggling vector: refuse it.
    if (headers['content-length'] !== undefined) throw new HeadError(400, 'both content-length and transfer-encoding');
    return CHUNKED;
  }
  const cl = headers['content-length'];
  if (cl !== undefined) {
    if (!/^\d{1,15}$/.test(cl)) throw new HeadError(400, 'invalid content-length');
    const length = Number(cl);
    return length === 0 ? NO_BODY : { kind: 'length', length };
  }
  return undefined;
}

/** A Connection header of one common token: compared without splitting (most messages carry one). */
function singleToken(v: string): string | undefined {
  if (v.length !== 10 && v.length !== 5) return undefined;
  const t = v.toLowerCase();
  return t === 'keep-alive' || t === 'close' ? t : undefined;
}

function wantsClose(headers: Readonly<Record<string, string | undefined>> | KeyHeaders, minor: number): boolean {
  const connection = headers['connection'];
  if (connection === undefined) return minor === 0;
  const single = singleToken(connection);
  if (single !== undefined) return single === 'close';
  const tokens = tokenList(connection);
  if (tokens.includes('close')) return true;
  return minor === 0 && !tokens.includes('keep-alive');
}

/** The head as text (latin1: bytes as they came) and the end of its start line. */
function headText(buf: Buffer, end: number): { text: string; startEnd: number } {
  const reuse = lastScan === buf && lastText.length >= end - 4;
  const text = reuse ? lastText.slice(0, end - 4) : buf.toString('latin1', 0, end - 4);
  lastScan = undefined;
  lastText = '';
  const i = text.indexOf('\r\n');
  return { text, startEnd: i < 0 ? text.length : i };
}

/** The decimal digit at text[i], or NaN. */
function digit(text: string, i: number): number {
  const c = text.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : NaN;
}

export function parseRequestHead(buf: Buffer, end: number): RequestHead {
  const { text, startEnd } = headText(buf, end);
  const sp1 = text.indexOf(' ');
  const sp2 = text.lastIndexOf(' ', startEnd);
  if (sp1 <= 0 || sp1 >= startEnd || sp2 <= sp1) throw new HeadError(400, 'malformed request line');
  const method = text.slice(0, sp1);
  const target = text.slice(sp1 + 1, sp2);
  // The version, compared in place: `HTTP/1.1` or `HTTP/1.0` and nothing after it.
  const minorCode = text.charCodeAt(sp2 + 8);
  if (startEnd - sp2 !== 9 || !text.startsWith('HTTP/1.', sp2 + 1) || (minorCode !== 49 && minorCode !== 48)) throw new HeadError(505, 'only HTTP/1.x is served here');
  const minor = minorCode === 49 ? 1 : 0;
  const fields: number[] = [];
  parseHeaderLines(text, startEnd + 2, fields);
  const key = keyHeaders(text, fields);
  if (key.upgrade !== undefined || method === 'CONNECT') throw new HeadError(501, 'upgrades and CONNECT are not supported');
  return new ParsedRequestHead(method, target, minor, text, fields, buf, key.host, key.connection, key.trace, bodyFraming(key) ?? NO_BODY, wantsClose(key, minor));
}

export function parseResponseHead(buf: Buffer, end: number, requestMethod: string): ResponseHead {
  const { text, startEnd } = headText(buf, end);
  if (!text.startsWith('HTTP/1.') || startEnd < 12) throw new HeadError(502, 'malformed status line');
  const minor = text.charCodeAt(7) === 49 ? 1 : 0;
  const status = digit(text, 9) * 100 + digit(text, 10) * 10 + digit(text, 11);
  if (!(status >= 100 && status <= 999)) throw new HeadError(502, 'malformed status code');
  const reason = startEnd > 13 ? text.slice(13, startEnd) : '';
  const fields: number[] = [];
  parseHeaderLines(text, startEnd + 2, fields);
  const framed = keyHeaders(text, fields);
  let framing: Framing;
  if (requestMethod === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) framing = NO_BODY;
  else framing = bodyFraming(framed) ?? UNTIL_CLOSE;
  const close = wantsClose(framed, minor) || framing.kind === 'close';
  return new ParsedResponseHead(status, reason, minor, text, fields, buf, framed.connection, framing, close);
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade']);

/** One bit per name length (31: any longer): a header whose length has no bit cannot be in the sets, and is not lower-cased. */
function lengthBit(len: number): number {
  return len < 31 ? 1 << len : 1 << 31;
}
function lengthMask(names: ReadonlySet<string> | undefined, mask: number): number {
  if (names) for (const n of names) mask |= lengthBit(n.length);
  return mask;
}
const HOP_BY_HOP_LENGTHS = lengthMask(HOP_BY_HOP, 0);

/** Whether `text` starts with `line` as its whole start line. */
function sameStartLine(text: string, line: string): boolean {
  return (text.length === line.length || text.charCodeAt(line.length) === 13) && text.startsWith(line);
}

/** Byte ranges of the header lines serializeHead keeps (scratch: it runs to completion before anyone else). */
const keptRuns: number[] = [];

/**
 * The head for the next hop, as bytes: `startLine`, then the header lines
 * copied as they came (runs of kept lines in one copy each), without the
 * hop-by-hop headers, those the Connection header names and the `drop` names,
 * then `add` ([name, value, ...]) and the blank line. Transfer-Encoding
 * stays: the body is passed through with its framing. A head that comes out
 * unchanged is returned as a view of `bytes`, not copied.
 */
export function serializeHead(startLine: string, head: HeadBytes, connection: string | undefined, drop?: ReadonlySet<string>, add?: readonly string[]): Buffer {
  const { text, fields, bytes } = head;
  // Keep-alive and close name no header: only a longer Connection value needs its own set.
  const named = connection === undefined || singleToken(connection) !== undefined ? undefined : new Set(tokenList(connection));
  let runs = 0;
  let size = startLine.length + 4;
  const lengths = lengthMask(drop, lengthMask(named, HOP_BY_HOP_LENGTHS));
  for (let f = 0; f < fields.length; f += FIELD_STRIDE) {
    const start = fields[f]!;
    const colon = fields[f + 1]!;
    if ((lengths & lengthBit(colon - start)) !== 0) {
      const lower = text.slice(start, colon).toLowerCase();
      if (HOP_BY_HOP.has(lower) || named?.has(lower) || drop?.has(lower)) continue;
    }
    const end = fields[f + 4]!;
    size += end - start;
    if (runs > 0 && keptRuns[runs - 1] === start) keptRuns[runs - 1] = end;
    else {
      keptRuns[runs++] = start;
      keptRuns[runs++] = end;
    }
  }
  if (add === undefined || add.length === 0) {
    // Nothing changes (the usual case for one of the two hops): the head as it came, no copy.
    const whole = runs === 0 ? fields.length === 0 : runs === 2 && keptRuns[0] === startLine.length + 2 && keptRuns[1] === text.length + 2;
    if (whole && sameStartLine(text, startLine)) return bytes.subarray(0, text.length + 4);
  }
  let added = '';
  if (add) for (let i = 0; i < add.length; i += 2) added += add[i] + ': ' + add[i + 1] + '\r\n';
  size += added.length;
  const out = Buffer.allocUnsafe(size);
  let pos = out.write(startLine, 0, 'latin1');
  out[pos++] = 13;
  out[pos++] = 10;
  for (let r = 0; r < runs; r += 2) pos += bytes.copy(out, pos, keptRuns[r], keptRuns[r + 1]);
  if (added.length > 0) pos += out.write(added, pos, 'latin1');
  out[pos++] = 13;
  out[pos] = 10;
  return out;
}
