// `trellis up` twice on one folder: after a crash of the runner (SIGKILL), the
// next start removes what the crashed run left behind and starts clean.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { examplesDir } from '../support/paths.js';
import { eventually, processAlive, startMesh, viaProxy } from '../support/mesh.js';

const manifest = (echo: string) => `
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: default }
spec:
  selector: { app: echo }
  ports: [{ port: 8080, targetPort: web }]
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: echo, namespace: default, labels: { app: echo } }
spec:
  serviceAccountName: echo
  command: ["node", ${JSON.stringify(echo)}]
  ports: [{ name: web }]
---
apiVersion: trellis.dev/v1alpha1
kind: MeshConfig
metadata: { name: mesh }
spec: { access: { mode: permissive } }
`;

describe('trellis up after a crash', { timeout: 120_000 }, () => {
  it('cleans up the processes a killed runner left and starts clean on the same folder', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-restart-'));
    fs.writeFileSync(path.join(dir, 'echo.yaml'), manifest(path.join(examplesDir, 'echo', 'echo.mjs')));
    const stateDir = path.join(dir, '.trellis');
    const first = await startMesh(dir, { stateDir });
    const leftover = first.pids();
    assert.ok(Object.keys(leftover).length >= 3, 'control plane, sidecar and app were started');
    await first.stop('SIGKILL');

    const second = await startMesh(dir, { stateDir });
    try {
      await eventually(() => Object.values(leftover).every((pid) => !processAlive(pid)), 5000, 'the crashed run left nothing running');
      const self = await second.instance('default', 'echo-0');
      const r = await viaProxy(self.spec.outboundPort, 'http://echo.default:8080/again');
      assert.equal(r.status, 200);
      const revisionAfterStart = (await second.client.status()).revision;
      assert.ok(revisionAfterStart < 20, `the store started empty (revision ${revisionAfterStart})`);
    } finally {
      assert.equal(await second.stop('SIGINT'), 0);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
