// examples/splitdim end to end: the SplitDim app and its key-value store in
// the mesh, the header route (`user: test` → splitdim-2), money moving
// through both deployments, and fault.yaml failing 10 % of /api/list calls.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WorkloadInstanceResource } from '../../src/resources/types.js';
import { expectEventually } from '../support/conformance.js';
import { startMesh, viaProxy, type Reply, type RunningMesh } from '../support/mesh.js';
import { examplesDir } from '../support/paths.js';

const example = path.join(examplesDir, 'splitdim');

describe('examples/splitdim', { timeout: 300_000 }, () => {
  let mesh: RunningMesh;
  let client: WorkloadInstanceResource;
  const call = (p: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> =>
    viaProxy(client.spec.outboundPort, `http://splitdim.splitdim${p}`, {
      ...opts,
      headers: { ...(opts.body ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    });
  const version = (r: Reply) => (JSON.parse(r.body) as { version: string }).version;

  before(async () => {
    mesh = await startMesh(example);
    client = await mesh.instance('splitdim', 'client-0');
  });

  after(async () => {
    await mesh?.stop();
    if (mesh) fs.rmSync(mesh.stateDir, { recursive: true, force: true });
  });

  it('sends user: test to splitdim-2 and everything else to splitdim', async () => {
    await expectEventually(() => call('/api/accounts', { headers: { user: 'test' } }), { status: 200 }, 'accounts');
    for (let i = 0; i < 10; i++) {
      assert.equal(version(await call('/api/accounts', { headers: { user: 'test' } })), 'splitdim-2');
      assert.equal(version(await call('/api/accounts')), 'splitdim');
      assert.equal(version(await call('/api/accounts', { headers: { user: 'someone' } })), 'splitdim');
    }
  });

  it('moves money through both deployments against one store', async () => {
    assert.equal((await call('/api/reset', { method: 'POST' })).status, 200);
    const t1 = await call('/api/transfer', { method: 'POST', body: JSON.stringify({ from: 'alice', to: 'bob', amount: 30 }) });
    assert.equal(t1.status, 200, t1.body);
    const t2 = await call('/api/transfer', { method: 'POST', headers: { user: 'test' }, body: JSON.stringify({ from: 'bob', to: 'carol', amount: 50 }) });
    assert.equal(t2.status, 200, t2.body);
    const broke = await call('/api/transfer', { method: 'POST', body: JSON.stringify({ from: 'alice', to: 'bob', amount: 1000 }) });
    assert.equal(broke.status, 409);
    const accounts = JSON.parse((await call('/api/accounts')).body) as { accounts: { name: string; balance: number }[] };
    const balances = Object.fromEntries(accounts.accounts.map((a) => [a.name, a.balance]));
    assert.deepEqual(balances, { alice: 70, bob: 80, carol: 150 });
  });

  it('fault.yaml makes 10 % ± 3 % of /api/list calls fail with 500, and nothing else', async () => {
    const fault = fs.readFileSync(path.join(example, 'fault.yaml'), 'utf8');
    await mesh.client.apply({ files: [{ path: 'fault.yaml', content: fault }] });
    try {
      await expectEventually(
        async () => {
          const rs = await Promise.all(Array.from({ length: 100 }, () => call('/api/list')));
          return { status: rs.some((r) => r.status === 500) ? 200 : 0, headers: {}, body: '' };
        },
        { status: 200 },
        'faults active',
      );
      let failed = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < 2000) {
            next++;
            const r = await call('/api/list');
            if (r.status === 500) failed++;
            else assert.equal(r.status, 200, r.body);
          }
        }),
      );
      assert.ok(Math.abs(failed / 2000 - 0.1) <= 0.03, `${failed}/2000 failed`);
      const others = await Promise.all(Array.from({ length: 50 }, () => call('/api/accounts')));
      assert.ok(others.every((r) => r.status === 200));
    } finally {
      await mesh.client.delete({ files: [{ path: 'fault.yaml', content: fault }] });
    }
  });
});
