// The local catalog: which WorkloadInstances each Service port lands on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildLocalCatalog, resolveTargetPort, selectorMatches } from '../../src/catalog/catalog.js';
import type { ServicePort } from '../../src/resources/types.js';
import { instance, manifests } from '../compiler/support.js';

const port = (targetPort: number | string): ServicePort => ({ port: 80, targetPort, protocol: 'TCP', appProtocol: 'http' });

describe('catalog', () => {
  it('selects nothing with an empty selector', () => {
    assert.equal(selectorMatches({}, { app: 'web' }), false);
  });

  it('requires every selector label to match', () => {
    assert.equal(selectorMatches({ app: 'web', version: 'v1' }, { app: 'web', version: 'v1', zone: 'a' }), true);
    assert.equal(selectorMatches({ app: 'web', version: 'v1' }, { app: 'web' }), false);
  });

  it('resolves a named targetPort by Workload port name', () => {
    const inst = instance({ namespace: 'ns', workload: 'w', ports: [['web', 8080, 1], ['admin', 9090, 2]] });
    assert.equal(resolveTargetPort(port('admin'), inst)?.port, 9090);
    assert.equal(resolveTargetPort(port('nope'), inst), undefined);
  });

  it('resolves a numeric targetPort to the pinned port, else to the single port', () => {
    const two = instance({ namespace: 'ns', workload: 'w', ports: [['web', 8080, 1], ['admin', 9090, 2]] });
    assert.equal(resolveTargetPort(port(9090), two)?.name, 'admin');
    assert.equal(resolveTargetPort(port(7000), two), undefined);
    const one = instance({ namespace: 'ns', workload: 'w', ports: [['web', 8080, 1]] });
    assert.equal(resolveTargetPort(port(7000), one)?.name, 'web');
  });

  it('builds endpoints from instances of the Service namespace only, keeping readiness', () => {
    const rs = [
      ...manifests(`
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: web}]
`),
      instance({ namespace: 'shop', workload: 'web', ports: [['web', 8080, 16001]], zone: 'z1' }),
      instance({ namespace: 'shop', workload: 'web', index: 1, ports: [['web', 8081, 16002]], ready: false }),
      instance({ namespace: 'other', workload: 'web', ports: [['web', 8082, 16003]] }),
    ];
    const svc = buildLocalCatalog(rs).services.get('shop/web');
    assert.ok(svc);
    assert.deepEqual(
      svc.ports[0]!.endpoints.map((e) => [e.instance, e.port, e.appPort, e.ready, e.zone, e.serviceAccount]),
      [
        ['shop/web-0', 16001, 8080, true, 'z1', 'web'],
        ['shop/web-1', 16002, 8081, false, undefined, 'web'],
      ],
    );
  });
});
