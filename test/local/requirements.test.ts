// `trellis up` refuses to start when a workload needs a program that is not
// installed, and names the Debian package.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findProgram, missingPrograms } from '../../src/local/requirements.js';
import { parseManifests } from '../../src/resources/parse-manifests.js';

const workload = (name: string, command: string, requires?: string) => `
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata:
  name: ${name}
  namespace: demo
  ${requires ? `annotations: { trellis.dev/requires: "${requires}" }` : ''}
spec:
  serviceAccountName: ${name}
  command: [${JSON.stringify(command)}]
`;

describe('workload requirements', () => {
  it('finds programs on PATH and leaves scripts of the workload alone', () => {
    assert.ok(findProgram('node'));
    assert.equal(findProgram('trellis-no-such-program'), undefined);
    const { resources, errors } = parseManifests(workload('a', 'node') + workload('b', './run.sh'), 'x.yaml');
    assert.deepEqual(errors, []);
    assert.deepEqual(missingPrograms(resources), []);
  });

  it('names the workloads and the Debian package of a missing program', () => {
    const { resources } = parseManifests(
      workload('db', 'node', 'trellis-missing-initdb') + workload('cache', 'trellis-missing-redis') + workload('cache2', 'trellis-missing-redis'),
      'x.yaml',
    );
    assert.deepEqual(missingPrograms(resources), [
      'error: demo/db needs `trellis-missing-initdb`, which is not installed: install the Debian package trellis-missing-initdb (apt-get install trellis-missing-initdb)',
      'error: demo/cache, demo/cache2 need `trellis-missing-redis`, which is not installed: install the Debian package trellis-missing-redis (apt-get install trellis-missing-redis)',
    ]);
  });
});
