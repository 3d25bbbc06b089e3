// Kubernetes resource quantities ('10m', '1500m', '1', '0.5') as used by
// TrafficSplit v1alpha1 weights, converted to integer milli-units.
import { ErrorCodes, TrellisResourceError } from './errors.js';

const QUANTITY = /^(\d+(?:\.\d+)?|\.\d+)(m|k|M|G)?$/;
const SCALE_MILLI: Record<string, number> = { m: 1, '': 1000, k: 1e6, M: 1e9, G: 1e12 };

/**
 * `1` → 1000, `500m` → 500, `1500m` → 1500, `0.5` → 500, `2k` → 2_000_000.
 * Numbers (YAML `weight: 1`) are whole units. Throws TRELLIS_E_INVALID_FIELD
 * for negatives, other suffixes, or precision finer than 1m.
 */
export function quantityToMilli(q: string | number): number {
  const text = typeof q === 'number' ? String(q) : q.trim();
  const m = QUANTITY.exec(text);
  if (!m) {
    throw new TrellisResourceError(
      ErrorCodes.INVALID_FIELD,
      `must be a non-negative quantity such as 1, 500m or 1500m, got ${JSON.stringify(q)}`,
    );
  }
  const milli = Number(m[1]) * SCALE_MILLI[m[2] ?? '']!;
  const rounded = Math.round(milli);
  if (Math.abs(milli - rounded) > 1e-9 || !Number.isSafeInteger(rounded)) {
    throw new TrellisResourceError(ErrorCodes.INVALID_FIELD, `must be a whole number of milli-units (1m precision), got ${JSON.stringify(q)}`);
  }
  return rounded;
}
