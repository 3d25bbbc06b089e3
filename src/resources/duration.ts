// Go-style duration strings ('24h', '90s', '1h30m', '500ms') to milliseconds.
import { ErrorCodes, TrellisResourceError } from './errors.js';

const UNIT_MS: Record<string, number> = {
  ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000,
};
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a Go duration (`time.ParseDuration` syntax without sign): one or more
 * decimal numbers each with a unit ns, us, ms, s, m, h; `0` alone is zero.
 * Returns milliseconds (fractional for sub-millisecond units). Throws
 * TRELLIS_E_INVALID_FIELD on anything else.
 */
export function parseDuration(s: string): number {
  const text = s.trim();
  if (text === '0') return 0;
  if (text === '') throw new TrellisResourceError(ErrorCodes.INVALID_FIELD, 'empty duration');
  let total = 0;
  PART.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (!m) {
      throw new TrellisResourceError(
        ErrorCodes.INVALID_FIELD,
        `invalid duration ${JSON.stringify(s)}: expected a number and a unit (ns, us, ms, s, m, h), e.g. 24h, 90s, 1h30m`,
      );
    }
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = PART.lastIndex;
  }
  return total;
}

/** Formats milliseconds as a Go-style duration ('1h30m', '500ms'); inverse of parseDuration for whole ms. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

/** GEP-2257 Gateway API duration: one to four parts of up to five digits, each with unit h, m, s or ms. */
export const GATEWAY_DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;

/**
 * Parses a Gateway API duration (GEP-2257, a strict subset of Go's syntax:
 * `500ms`, `10s`, `1h30m`, `0s`) to milliseconds. Throws
 * TRELLIS_E_INVALID_FIELD on anything else (`1.5s`, `-1s`, `0`, `1d`, `100us`).
 */
export function parseGatewayDuration(s: string): number {
  if (!GATEWAY_DURATION.test(s)) {
    throw new TrellisResourceError(
      ErrorCodes.INVALID_FIELD,
      `invalid Gateway API duration ${JSON.stringify(s)}: expected 1 to 4 whole numbers (up to 5 digits) each with unit h, m, s or ms, e.g. 500ms, 10s, 1h30m, 0s`,
    );
  }
  return parseDuration(s);
}
