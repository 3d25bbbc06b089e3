// Free ports for local mode come from below the kernel's ephemeral range, so
// no outgoing connection can take one before its sidecar binds it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { freePorts } from '../../src/local/ports.js';

describe('free ports', () => {
  it('gives distinct bindable ports outside the ephemeral range', async () => {
    const ports = await freePorts(50);
    assert.equal(new Set(ports).size, 50);
    const [lo] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    for (const p of ports) assert.ok(p >= 1024 && p < lo!, `${p} is below ${lo}`);
    // Each can be bound at once.
    const servers = await Promise.all(
      ports.slice(0, 5).map((p) => new Promise<net.Server>((resolve, reject) => {
        const s = net.createServer().once('error', reject);
        s.listen(p, '127.0.0.1', () => resolve(s));
      })),
    );
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it('skips ports that are taken, and never hands out a port twice', async () => {
    const [lo] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    // Hold 200 ports of the range with another listener: none of them may come back.
    const held: net.Server[] = [];
    for (let p = lo! - 200; p < lo!; p++) {
      const s = net.createServer();
      const ok = await new Promise<boolean>((r) => s.once('error', () => r(false)).listen(p, '127.0.0.1', () => r(true)));
      if (ok) held.push(s);
    }
    const heldPorts = new Set(held.map((s) => (s.address() as net.AddressInfo).port));
    try {
      const a = await freePorts(300);
      const b = await freePorts(300);
      for (const p of [...a, ...b]) assert.ok(!heldPorts.has(p), `${p} is held by another listener`);
      assert.equal(new Set([...a, ...b]).size, 600, 'no port twice');
    } finally {
      for (const s of held) s.close();
    }
  });
});
