// Minimal leveled logger for the proxy: one line per event on stderr, with the
// proxy id, so the runner can prefix and interleave many processes' output.

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const p2 = (n: number) => (n < 10 ? '0' : '') + n;

/**
 * `new Date(ms).toISOString()`, built from the UTC fields. Memory: V8's
 * toISOString and toUTCString set up its time-zone cache from ICU's time-zone
 * data, which maps ~0.8 MB of it into a sidecar that otherwise never needs it;
 * the getUTC* fields do not.
 */
export function isoTimestamp(ms: number): string {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  // Out of range (or NaN): the native form (±YYYYYY-…, or its RangeError).
  if (!(y >= 1000 && y <= 9999)) return d.toISOString();
  const msPart = d.getUTCMilliseconds();
  return (
    `${y}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}` +
    `T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${msPart < 100 ? '0' + p2(msPart) : msPart}Z`
  );
}

export function createLogger(name: string, level: 'info' | 'warn' | 'error' = 'info'): Logger {
  const rank = { info: 0, warn: 1, error: 2 }[level];
  const line = (lvl: string, msg: string) => process.stderr.write(`${isoTimestamp(Date.now())} ${lvl} ${name}: ${msg}\n`);
  return {
    info: (m) => rank <= 0 && line('info', m),
    warn: (m) => rank <= 1 && line('warn', m),
    error: (m) => line('error', m),
  };
}
