// What every pair returns: where the client sends traffic, and the proxies to measure.

export interface ProxyProc {
  /** "client hop" or "server hop". */
  role: 'client' | 'server';
  pid: number;
}

export interface RunningPair {
  name: string;
  /** Base URL of the first hop (or of nginx for "direct"), e.g. http://127.0.0.1:40123 */
  url: string;
  port: number;
  /** Proxy processes (empty for direct). */
  proxies: ProxyProc[];
  notes: string[];
  stop(): Promise<void>;
}

export interface PairContext {
  /** nginx port */
  upstreamPort: number;
  /** Temp dir for this run (configs, certificates). */
  workDir: string;
  repoRoot: string;
}
