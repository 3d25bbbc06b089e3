// Limits and timeouts every proxy listener applies (docs/proxy.md).

export const LIMITS = {
  /** Reading request headers. */
  headersTimeoutMs: 10_000,
  /** Idle keep-alive connections from clients. */
  keepAliveTimeoutMs: 60_000,
  /** Upstream response headers (Envoy's default route timeout). */
  upstreamResponseTimeoutMs: 15_000,
  /** The local app's response head, inbound: a backstop; callers' sidecars enforce route and policy timeouts. */
  inboundResponseTimeoutMs: 3600_000,
  /** TCP connect and TLS handshake to another sidecar (TrafficPolicy timeouts.connect overrides). */
  connectTimeoutMs: 10_000,
  /** Idle TCP connections (TrafficPolicy timeouts.idle overrides for a Service). */
  tcpIdleTimeoutMs: 3600_000,
  maxConnections: 16_384,
  maxHeaderBytes: 64 * 1024,
};
