// A small mesh with short-lived certificates and a TCP service: certificates
// rotate under load without a failed request; TCP through explicit upstream
// ports is authorised by TCPRoute, half-closes pass, denied connections close.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { echoMesh } from '../support/echo-mesh.js';
import { examplesDir } from '../support/paths.js';
import { eventually, loadLoop, sleep, startMesh, viaProxy, type RunningMesh } from '../support/mesh.js';

/** A TCP echo server beside the HTTP one, and what lets the client (only) reach it. */
const tcpEcho = (app: string) => `
apiVersion: v1
kind: Service
metadata: { name: tcp-echo, namespace: demo }
spec:
  selector: { app: tcp-echo }
  ports: [{ name: tcp, port: 9000, targetPort: tcp, appProtocol: tcp }]
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: tcp-echo, namespace: demo, labels: { app: tcp-echo } }
spec:
  serviceAccountName: tcp-echo
  command: ["node", ${JSON.stringify(app)}]
  ports: [{ name: tcp }]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: { name: echo-port, namespace: demo }
spec: { matches: { ports: [] } }
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: { name: client-to-tcp-echo, namespace: demo }
spec:
  destination: { kind: ServiceAccount, name: tcp-echo, namespace: demo }
  rules: [{ kind: TCPRoute, name: echo-port }]
  sources: [{ kind: ServiceAccount, name: client, namespace: demo }]
`;

async function certNotAfter(adminPort: number): Promise<string> {
  const dump = (await (await fetch(`http://127.0.0.1:${adminPort}/config_dump`)).json()) as { certificate: { notAfter: string } };
  return dump.certificate.notAfter;
}

/** Sends `payload`, half-closes, and collects everything until the peer closes. */
function echoOverTcp(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    s.on('connect', () => s.end(payload));
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
  });
}

describe('short-lived certificates and TCP services', { timeout: 120_000 }, () => {
  let mesh: RunningMesh;
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-mesh-'));
    const tcp = { service: 'tcp-echo', port: 9000 };
    fs.writeFileSync(
      path.join(dir, 'mesh.yaml'),
      echoMesh({
        meshConfig: { certificates: { lifetime: '4s' } },
        echoReplicas: 2,
        clientUpstreams: [tcp, { service: 'echo', port: 8080 }],
        strangerUpstreams: [tcp],
        extra: tcpEcho(path.join(examplesDir, 'echo', 'tcp-echo.mjs')),
      }),
    );
    mesh = await startMesh(dir);
  });

  after(async () => {
    await mesh?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    if (mesh) fs.rmSync(mesh.stateDir, { recursive: true, force: true });
  });

  it('rotates certificates under load with zero failed requests', async () => {
    const client = await mesh.instance('demo', 'client-0');
    const echo = await mesh.instance('demo', 'echo-0');
    const first = await certNotAfter(echo.spec.adminPort);
    const firstClient = await certNotAfter(client.spec.adminPort);
    const load = loadLoop(() => viaProxy(client.spec.outboundPort, 'http://echo.demo:8080/hello'), 4);
    await sleep(6000);
    const counts = await load.stop();
    assert.equal(counts.failed, 0, counts.failures.join(' | '));
    assert.ok(counts.ok > 100, `only ${counts.ok} requests`);
    assert.notEqual(await certNotAfter(echo.spec.adminPort), first, 'the server certificate rotated');
    assert.notEqual(await certNotAfter(client.spec.adminPort), firstClient, 'the client certificate rotated');
  });

  it('balances HTTP calls over both echo replicas', async () => {
    const client = await mesh.instance('demo', 'client-0');
    const pods = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const r = await viaProxy(client.spec.outboundPort, 'http://echo.demo.svc.cluster.local:8080/');
      assert.equal(r.status, 200);
      pods.add((JSON.parse(r.body) as { pod: string }).pod);
    }
    assert.deepEqual([...pods].sort(), ['echo-0', 'echo-1']);
  });

  it('streams bodies both ways through both sidecars: content-length, chunked, 1 MiB, HEAD, keep-alive', async () => {
    const client = await mesh.instance('demo', 'client-0');
    const port = client.spec.upstreams.find((u) => u.service === 'echo')!.localPort;
    const base = `http://127.0.0.1:${port}`;
    const big = Buffer.alloc(1024 * 1024, 7);
    const posted = (await (await fetch(`${base}/upload`, { method: 'POST', body: big })).json()) as { bodyBytes: number; method: string };
    assert.equal(posted.bodyBytes, big.length);
    assert.equal(posted.method, 'POST');
    // A streamed (chunked) request body.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(1000).fill(i));
        c.close();
      },
    });
    const chunked = (await (
      await fetch(`${base}/chunked`, { method: 'PUT', body: stream, duplex: 'half' } as RequestInit)
    ).json()) as { bodyBytes: number; headers: Record<string, string> };
    assert.equal(chunked.bodyBytes, 10_000);
    assert.equal(chunked.headers['transfer-encoding'], 'chunked');
    // A chunked response of 3 MiB.
    const down = await fetch(`${base}/download?size=${3 * 1024 * 1024}`);
    assert.equal((await down.arrayBuffer()).byteLength, 3 * 1024 * 1024);
    const head = await fetch(`${base}/x`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    // Many requests on kept-alive connections, interleaved with the above.
    for (let i = 0; i < 50; i++) assert.equal((await fetch(`${base}/k${i}`)).status, 200);
  });

  it('passes TCP through an explicit upstream port, half-close included', async () => {
    const client = await mesh.instance('demo', 'client-0');
    const port = client.spec.upstreams.find((u) => u.service === 'tcp-echo')!.localPort;
    const payload = Buffer.alloc(256 * 1024, 7);
    const back = await echoOverTcp(port, payload);
    assert.equal(back.length, payload.length);
    assert.ok(back.equals(payload));
  });

  it('sends an HTTP upstream port through the same routing', async () => {
    const client = await mesh.instance('demo', 'client-0');
    const port = client.spec.upstreams.find((u) => u.service === 'echo')!.localPort;
    const r = await fetch(`http://127.0.0.1:${port}/via-upstream`);
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { path: string }).path, '/via-upstream');
  });

  it('closes a TCP connection that no TrafficTarget allows', async () => {
    const stranger = await mesh.instance('demo', 'stranger-0');
    const port = stranger.spec.upstreams[0]!.localPort;
    await eventually(async () => (await echoOverTcp(port, Buffer.from('hi')).catch(() => Buffer.alloc(0))).length === 0, 3000, 'denied');
    const back = await echoOverTcp(port, Buffer.from('steal')).catch(() => Buffer.alloc(0));
    assert.equal(back.length, 0, 'nothing comes back');
  });

  it('ends an open TCP connection when the TrafficTarget that allowed it is deleted', async () => {
    const client = await mesh.instance('demo', 'client-0');
    const port = client.spec.upstreams.find((u) => u.service === 'tcp-echo')!.localPort;
    const s = net.connect({ port, host: '127.0.0.1' });
    const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
    s.on('error', () => {});
    // The echo comes back while the connection is allowed.
    const first = await new Promise<string>((resolve) => {
      s.once('data', (d) => resolve(d.toString()));
      s.write('ping');
    });
    assert.equal(first, 'ping');
    const target = { kind: 'TrafficTarget', namespace: 'demo', name: 'client-to-tcp-echo' };
    const saved = await mesh.client.get(target);
    await mesh.client.delete({ refs: [target] });
    try {
      await Promise.race([closed, sleep(10_000).then(() => assert.fail('the connection stayed open after its TrafficTarget went'))]);
    } finally {
      await mesh.client.apply({ objects: [saved] });
    }
  });
});
