// MeshConfig tracing and access log settings reach every proxy's snapshot,
// collector URLs with their standard path filled in.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileSnapshots } from '../../src/compiler/compile.js';
import { instance, manifests } from './support.js';

const NS = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n';

function meshOf(yaml: string) {
  const resources = [...manifests(NS + yaml), instance({ namespace: 'demo', workload: 'client' })];
  return compileSnapshots(resources).snapshots.get('demo/client-0')!.mesh;
}

describe('mesh settings in snapshots', () => {
  it('traces every request and logs access by default', () => {
    const mesh = meshOf('');
    assert.deepEqual(mesh.tracing, { samplingPercent: 100 });
    assert.deepEqual(mesh.accessLog, { enabled: true });
  });

  it('carries MeshConfig tracing and access log settings, with the collectors\' default paths', () => {
    const mesh = meshOf(`---
apiVersion: trellis.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  tracing:
    samplingPercent: 5
    zipkin: {url: "http://127.0.0.1:9411"}
    otlp: {url: "http://127.0.0.1:4318/"}
  accessLog: {enabled: false, file: /tmp/access.log}
`);
    assert.deepEqual(mesh.tracing, { samplingPercent: 5, zipkinUrl: 'http://127.0.0.1:9411/api/v2/spans', otlpUrl: 'http://127.0.0.1:4318/v1/traces' });
    assert.deepEqual(mesh.accessLog, { enabled: false, file: '/tmp/access.log' });
  });

  it('keeps a collector URL that has a path', () => {
    const mesh = meshOf(`---
apiVersion: trellis.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  tracing: {zipkin: {url: "http://zipkin.example:9411/custom/spans"}}
`);
    assert.equal(mesh.tracing?.zipkinUrl, 'http://zipkin.example:9411/custom/spans');
  });
});
