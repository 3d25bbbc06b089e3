// The mesh DNS server of isolated mode: wire format, the names it answers,
// and a real resolver (node's dns.Resolver) talking to it on loopback.

import assert from 'node:assert/strict';
import dns from 'node:dns';
import { after, before, describe, it } from 'node:test';
import { MeshNames, buildResponse, parseQuery, startDnsServer, type DnsServer } from '../../../src/local/netns/dns.js';

/** A query packet for `name`, type `type`, with RD set. */
function query(name: string, type = 1, id = 0x1234): Buffer {
  const labels = name.split('.').filter(Boolean);
  const q = Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])),
    Buffer.from([0, type >> 8, type & 0xff, 0, 1]),
  ]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2);
  h.writeUInt16BE(1, 4);
  return Buffer.concat([h, q]);
}

function names(): MeshNames {
  const n = new MeshNames();
  n.setServices([
    { namespace: 'demo', name: 'echo', vip: '198.19.1.2' },
    { namespace: 'bookstore', name: 'bookstore', vip: '198.19.3.4' },
  ]);
  n.setClient('198.18.5.2', 'demo');
  return n;
}

describe('mesh DNS names', () => {
  it('answers name.namespace, .svc and .svc.cluster.local, case-insensitively, with a trailing dot', () => {
    const n = names();
    for (const q of ['echo.demo', 'echo.demo.svc', 'echo.demo.svc.cluster.local', 'ECHO.Demo.SVC.cluster.local.']) {
      assert.equal(n.resolve(q), '198.19.1.2', q);
    }
    assert.equal(n.resolve('bookstore.bookstore.svc.cluster.local'), '198.19.3.4');
  });

  it('answers a bare name in the namespace of the instance that asks (by its address)', () => {
    const n = names();
    assert.equal(n.resolve('echo', '198.18.5.2'), '198.19.1.2');
    assert.equal(n.resolve('echo', '198.18.5.9'), undefined, 'unknown client: no namespace to complete with');
    assert.equal(n.resolve('bookstore', '198.18.5.2'), undefined, 'bookstore is not in demo');
  });

  it('knows nothing else', () => {
    const n = names();
    for (const q of ['echo.other', 'echo.demo.svc.cluster', 'echo.demo.demo.svc.cluster.local', 'example.com', 'echo.demo.svc.cluster.local.example', '']) {
      assert.equal(n.resolve(q, '198.18.5.2'), undefined, q);
    }
  });
});

describe('DNS wire format', () => {
  it('parses a query and answers with one A record pointing at the question name', () => {
    const q = query('echo.demo.svc.cluster.local');
    const parsed = parseQuery(q);
    assert.equal(parsed.question.name, 'echo.demo.svc.cluster.local');
    assert.equal(parsed.question.type, 1);
    const r = buildResponse(q, parsed, 0, '198.19.1.2');
    assert.equal(r.readUInt16BE(0), 0x1234);
    const flags = r.readUInt16BE(2);
    assert.equal(flags & 0x8000, 0x8000, 'QR');
    assert.equal(flags & 0x0400, 0x0400, 'AA');
    assert.equal(flags & 0x0100, 0x0100, 'RD copied');
    assert.equal(flags & 0xf, 0, 'NOERROR');
    assert.equal(r.readUInt16BE(6), 1, 'one answer');
    const a = r.subarray(parsed.end);
    assert.equal(a.readUInt16BE(0), 0xc00c);
    assert.deepEqual([...a.subarray(12, 16)], [198, 19, 1, 2]);
  });

  it('NXDOMAIN for unknown names, NOERROR without answers for AAAA of a known one, FORMERR for garbage', () => {
    const n = names();
    const nx = n.answer(query('nope.demo'))!;
    assert.equal(nx.readUInt16BE(2) & 0xf, 3);
    assert.equal(nx.readUInt16BE(6), 0);
    const aaaa = n.answer(query('echo.demo', 28))!;
    assert.equal(aaaa.readUInt16BE(2) & 0xf, 0);
    assert.equal(aaaa.readUInt16BE(6), 0);
    const bad = n.answer(Buffer.from([1, 2, 3, 4, 0, 1]))!;
    assert.equal(bad.readUInt16BE(2) & 0xf, 1);
    assert.equal(n.answer(Buffer.from([1])), undefined);
    // A response (QR set) is not answered.
    const resp = query('echo.demo');
    resp.writeUInt16BE(0x8100, 2);
    assert.equal(n.answer(resp), undefined);
  });
});

describe('DNS server', () => {
  let server: DnsServer;
  const resolver = new dns.promises.Resolver({ timeout: 1000, tries: 1 });

  before(async () => {
    server = await startDnsServer(names(), '127.0.0.1');
    resolver.setServers([`127.0.0.1:${server.port}`]);
  });
  after(() => server?.close());

  it('is usable by a stock resolver', async () => {
    assert.deepEqual(await resolver.resolve4('echo.demo.svc.cluster.local'), ['198.19.1.2']);
    assert.deepEqual(await resolver.resolve4('bookstore.bookstore'), ['198.19.3.4']);
    await assert.rejects(resolver.resolve4('nope.demo'), { code: 'ENOTFOUND' });
    await assert.rejects(resolver.resolve6('echo.demo'), { code: 'ENODATA' });
  });
});
