// Minimal leveled logger for the proxy: one line per event on stderr, with the
// proxy id, so the runner can prefix and interleave many processes' output.

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function createLogger(name: string, level: 'info' | 'warn' | 'error' = 'info'): Logger {
  const rank = { info: 0, warn: 1, error: 2 }[level];
  const line = (lvl: string, msg: string) => process.stderr.write(`${new Date().toISOString()} ${lvl} ${name}: ${msg}\n`);
  return {
    info: (m) => rank <= 0 && line('info', m),
    warn: (m) => rank <= 1 && line('warn', m),
    error: (m) => line('error', m),
  };
}
