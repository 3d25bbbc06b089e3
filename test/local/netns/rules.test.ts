// Isolated mode without root: the iptables rules a namespace gets, Service
// virtual IPs, and the message that says what isolated mode needs.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isolatedEnv, inNamespace } from '../../../src/local/netns/isolation.js';
import { namespaceRules } from '../../../src/local/netns/iptables.js';
import { meshId, slotAddress, slotName, hostAddressOf } from '../../../src/local/netns/network.js';
import { VipAllocator } from '../../../src/local/netns/vips.js';
import { instanceEnv } from '../../../src/local/env.js';
import type { WorkloadInstanceResource } from '../../../src/resources/types.js';

const rules = namespaceRules({
  address: '198.18.7.2',
  hostAddress: '198.18.7.1',
  dnsPort: 40053,
  proxyGid: 1337,
  ports: [{ app: 8080, inbound: 41000 }],
  adminPort: 42000,
  services: [{ vip: '198.19.1.2', port: 8080, localPort: 61000, name: 'demo/echo:8080' }],
});
const lines = rules.split('\n');
const index = (rule: string) => {
  const i = lines.indexOf(rule);
  assert.ok(i >= 0, `missing rule: ${rule}\n${rules}`);
  return i;
};

describe('namespace iptables rules', () => {
  it('is a complete iptables-restore input for nat and filter', () => {
    assert.equal(lines.filter((l) => l === 'COMMIT').length, 2);
    assert.ok(lines.includes('*nat') && lines.includes('*filter'));
  });

  it('inbound: the inbound port reaches the sidecar; the app port is captured by it; only the host reaches the app and admin', () => {
    const probe = index('-A TRELLIS_INBOUND -s 198.18.7.1/32 -p tcp --dport 8080 -j DNAT --to-destination 127.0.0.1:8080');
    const capture = index('-A TRELLIS_INBOUND -p tcp --dport 8080 -j DNAT --to-destination 127.0.0.1:41000');
    assert.ok(probe < capture, 'the probe exemption comes first');
    index('-A TRELLIS_INBOUND -p tcp --dport 41000 -j DNAT --to-destination 127.0.0.1:41000');
    index('-A TRELLIS_INBOUND -s 198.18.7.1/32 -p tcp --dport 42000 -j DNAT --to-destination 127.0.0.1:42000');
    assert.ok(!lines.some((l) => /TRELLIS_INBOUND .*--dport 42000/.test(l) && !l.includes('-s 198.18.7.1/32')), 'admin only from the host');
    index('-A TRELLIS_INPUT -m conntrack --ctstate DNAT -j ACCEPT');
    assert.equal(lines.at(lines.indexOf('-A TRELLIS_INPUT -j REJECT --reject-with icmp-port-unreachable') - 1), '-A TRELLIS_INPUT -p tcp -j REJECT --reject-with tcp-reset');
  });

  it('outbound: the sidecar group is exempt; a Service VIP:port goes to its own local port; everything else is refused', () => {
    const exempt = index('-A TRELLIS_OUTPUT -m owner --gid-owner 1337 -j RETURN');
    const services = index('-A TRELLIS_OUTPUT -d 198.19.0.0/16 -p tcp -j TRELLIS_SERVICES');
    assert.ok(exempt < services);
    index('-A TRELLIS_SERVICES -d 198.19.1.2/32 -p tcp --dport 8080 -m comment --comment "demo/echo:8080" -j REDIRECT --to-ports 61000');
    index('-A TRELLIS_OUTPUT -d 198.18.7.1/32 -p udp --dport 53 -j DNAT --to-destination 198.18.7.1:40053');
    const last = lines.lastIndexOf('-A TRELLIS_OUTPUT -j REJECT --reject-with icmp-port-unreachable');
    assert.ok(last > index('-A TRELLIS_OUTPUT -m owner --gid-owner 1337 -j ACCEPT'));
  });
});

describe('names and addresses', () => {
  it('derives short interface names and addresses from the state directory', () => {
    const id = meshId('/tmp/some/state');
    assert.match(id, /^[0-9a-f]{6}$/);
    assert.equal(id, meshId('/tmp/some/state/'));
    assert.notEqual(id, meshId('/tmp/other/state'));
    assert.ok(slotName(id, 252).length <= 15, 'interface names are at most 15 bytes');
    assert.equal(hostAddressOf(9), '198.18.9.1');
    assert.equal(slotAddress(9, 0), '198.18.9.2');
    assert.equal(slotAddress(9, 252), '198.18.9.254');
  });

  it('gives each Service a stable VIP in 198.19.0.0/16, kept in the state directory', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-vips-'));
    try {
      const file = path.join(dir, 'vips.json');
      const a = new VipAllocator(file);
      const echo = a.vipOf('demo', 'echo');
      assert.match(echo, /^198\.19\.\d+\.\d+$/);
      assert.equal(a.vipOf('demo', 'echo'), echo);
      const others = new Set(Array.from({ length: 500 }, (_, i) => a.vipOf('ns', `svc-${i}`)));
      assert.equal(others.size, 500, 'no two Services share a VIP');
      assert.ok(!others.has(echo));
      assert.equal(new VipAllocator(file).vipOf('demo', 'echo'), echo, 'same VIP after a restart');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('processes in a namespace', () => {
  it('run through ip netns exec and setpriv: no capabilities, the sidecar with its own group', () => {
    const app = inNamespace('tr-abc123-0', ['node', 'app.js']);
    assert.deepEqual(app.slice(0, 5), ['ip', 'netns', 'exec', 'tr-abc123-0', 'setpriv']);
    assert.ok(app.includes('--bounding-set') && app.includes('--no-new-privs'));
    assert.ok(!app.includes('--regid'));
    assert.deepEqual(app.slice(-3), ['--', 'node', 'app.js']);
    const proxy = inNamespace('tr-abc123-0', ['node', 'main.js'], 'proxy');
    assert.equal(proxy[proxy.indexOf('--regid') + 1], '1337');
  });

  it('have no HTTP_PROXY: not from the instance environment, not inherited from the runner', () => {
    const inst = {
      apiVersion: 'trellis.dev/v1alpha1',
      kind: 'WorkloadInstance',
      metadata: { name: 'client-0', namespace: 'demo', labels: {}, annotations: { 'trellis.dev/isolation': 'netns' } },
      spec: { workload: 'client', index: 0, serviceAccountName: 'client', labels: {}, address: '198.18.7.2', ports: [], outboundPort: 1000, adminPort: 1001, upstreams: [], ready: true },
    } as WorkloadInstanceResource;
    const env = instanceEnv(inst);
    assert.equal(env.HTTP_PROXY, undefined);
    assert.equal(env.NO_PROXY, undefined);
    assert.equal(env.TRELLIS_INSTANCE_NAME, 'client-0');
    const runner = { HTTP_PROXY: 'http://corp:3128', PATH: '/bin' };
    assert.deepEqual(isolatedEnv({ ...runner, ...env }, runner).HTTP_PROXY, undefined);
    assert.equal(isolatedEnv({ ...runner, HTTP_PROXY: 'http://mine:1' }, runner).HTTP_PROXY, 'http://mine:1', 'a Workload env value stays');
    inst.metadata.annotations = {};
    assert.equal(instanceEnv(inst).HTTP_PROXY, 'http://127.0.0.1:1000', 'process mode unchanged');
  });
});
