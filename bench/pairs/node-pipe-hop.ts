// One hop of the reference pairs node-tls-pipe and node-mux-pipe, run as its
// own process:
//   node node-pipe-hop.js client <listenPort> <serverHopPort> <certDir> [mux]
//   node node-pipe-hop.js server <listenPort> <nginxPort> <certDir> [mux]
// Copies bytes and parses nothing: the floor of a Node.js sidecar pair that
// does no HTTP work. The client hop accepts plain TCP, the server hop accepts
// mTLS (TLS 1.3, client certificate required) and connects to nginx.
//
// Without `mux`: one TLS connection between the hops per accepted connection.
// With `mux`: every accepted connection travels over ONE TLS connection as
// frames [u32 connection id][u32 length][bytes], a zero-length frame meaning
// "this connection closed" (either way). Frames produced during one
// event-loop turn are concatenated and written once, at setImmediate.
// Backpressure: a full tunnel pauses every local socket until it drains; a
// full local socket pauses reading from the tunnel until it drains (head-of-
// line blocking is acceptable for a benchmark reference, unbounded buffers
// are not).

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

const [mode, listenArg, targetArg, certDir, muxArg] = process.argv.slice(2);
if ((mode !== 'client' && mode !== 'server') || !listenArg || !targetArg || !certDir || (muxArg !== undefined && muxArg !== 'mux')) {
  console.error('usage: node-pipe-hop.js client|server <listenPort> <targetPort> <certDir> [mux]');
  process.exit(2);
}
const listenPort = Number(listenArg);
const targetPort = Number(targetArg);
const read = (f: string) => fs.readFileSync(path.join(certDir, f));
const ca = read('ca.pem');
const HOST = '127.0.0.1';
const MAX_FRAME = 16 * 1024 * 1024; // a longer frame means a broken stream
const EMPTY = Buffer.alloc(0);

const clientContext = mode === 'client' ? tls.createSecureContext({ key: read('client.key'), cert: read('client.crt'), ca, minVersion: 'TLSv1.3' }) : undefined;
function connectServerHop(): tls.TLSSocket {
  return tls.connect({ host: HOST, port: targetPort, secureContext: clientContext, servername: 'localhost', minVersion: 'TLSv1.3' });
}

/** Copies bytes both ways with pause/drain backpressure; when one side ends or fails, the other is closed too. */
function join(a: net.Socket, b: net.Socket): void {
  for (const [from, to] of [[a, b], [b, a]] as const) {
    from.setNoDelay(true);
    from.on('data', (d: Buffer) => {
      if (!to.write(d)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.on('end', () => to.end()); // after what is already queued
    from.on('close', () => to.end());
    from.on('error', () => {
      a.destroy();
      b.destroy();
    });
  }
}

/** One side of a multiplexed TLS connection. The client side add()s accepted sockets; the server side dial()s nginx for each new id. */
class Mux {
  private readonly conns = new Map<number, net.Socket>();
  private readonly blockedLocals = new Set<net.Socket>();
  private out: Buffer[] = [];
  private flushScheduled = false;
  private tunnelFull = false;
  /** Client: last id assigned. Server: highest id seen (ids only grow, so a lower unknown id is a connection already closed). */
  private lastId = 0;
  private rest: Buffer | undefined;

  constructor(
    private readonly tunnel: tls.TLSSocket,
    private readonly dial?: () => net.Socket,
  ) {
    tunnel.setNoDelay(true);
    tunnel.on('data', (d: Buffer) => this.receive(d));
    tunnel.on('drain', () => {
      this.tunnelFull = false;
      for (const c of this.conns.values()) c.resume();
    });
    tunnel.on('error', (err) => console.error(`tunnel: ${err.message}`));
    tunnel.on('close', () => {
      for (const c of this.conns.values()) c.destroy();
      this.conns.clear();
    });
  }

  get closed(): boolean {
    return this.tunnel.destroyed;
  }

  add(sock: net.Socket): void {
    this.attach(++this.lastId, sock);
  }

  private attach(id: number, sock: net.Socket): void {
    sock.setNoDelay(true);
    this.conns.set(id, sock);
    if (this.tunnelFull) sock.pause();
    sock.on('data', (d: Buffer) => this.send(id, d));
    sock.on('drain', () => this.unblock(sock));
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      this.unblock(sock);
      // Closed from this side (not by a close frame from the peer): tell the peer.
      if (this.conns.get(id) === sock) {
        this.conns.delete(id);
        this.send(id, EMPTY);
      }
    });
  }

  private send(id: number, data: Buffer): void {
    const header = Buffer.allocUnsafe(8);
    header.writeUInt32BE(id, 0);
    header.writeUInt32BE(data.length, 4);
    this.out.push(header);
    if (data.length) this.out.push(data);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const chunk = Buffer.concat(this.out);
    this.out = [];
    if (this.tunnel.destroyed) return;
    if (!this.tunnel.write(chunk) && !this.tunnelFull) {
      this.tunnelFull = true;
      for (const c of this.conns.values()) c.pause();
    }
  }

  private receive(d: Buffer): void {
    let buf = this.rest ? Buffer.concat([this.rest, d]) : d;
    let off = 0;
    while (buf.length - off >= 8) {
      const id = buf.readUInt32BE(off);
      const len = buf.readUInt32BE(off + 4);
      if (len > MAX_FRAME) {
        this.tunnel.destroy(new Error(`frame of ${len} bytes`));
        return;
      }
      if (buf.length - off - 8 < len) break;
      this.onFrame(id, buf.subarray(off + 8, off + 8 + len));
      off += 8 + len;
    }
    this.rest = off === buf.length ? undefined : buf.subarray(off);
  }

  private onFrame(id: number, data: Buffer): void {
    let sock = this.conns.get(id);
    if (data.length === 0) {
      if (sock) {
        this.conns.delete(id); // so that its 'close' sends no close frame back
        sock.end();
      }
      return;
    }
    if (!sock) {
      if (!this.dial || id <= this.lastId) return; // already closed here: drop
      this.lastId = id;
      sock = this.dial();
      this.attach(id, sock);
    }
    if (!sock.write(data)) {
      this.blockedLocals.add(sock);
      this.tunnel.pause();
    }
  }

  private unblock(sock: net.Socket): void {
    if (this.blockedLocals.delete(sock) && this.blockedLocals.size === 0) this.tunnel.resume();
  }
}

let server: net.Server;
if (mode === 'client') {
  let mux: Mux | undefined;
  server = net.createServer({ noDelay: true }, (sock) => {
    if (muxArg) {
      if (!mux || mux.closed) mux = new Mux(connectServerHop()); // (re)opened on demand
      mux.add(sock);
    } else join(sock, connectServerHop());
  });
} else {
  const dialNginx = () => net.connect({ host: HOST, port: targetPort, noDelay: true });
  server = tls.createServer(
    { key: read('server.key'), cert: read('server.crt'), ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', noDelay: true },
    (tunnel) => {
      if (muxArg) new Mux(tunnel, dialNginx);
      else join(tunnel, dialNginx());
    },
  );
  server.on('tlsClientError', (err) => console.error(`TLS handshake: ${err.message}`));
}
server.listen(listenPort, HOST, () => console.log(`listening on ${listenPort}`));
process.on('SIGTERM', () => process.exit(0));
