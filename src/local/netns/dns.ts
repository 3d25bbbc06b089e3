// The mesh's DNS server in isolated mode: answers A queries for a Service's
// `name`, `name.namespace`, `name.namespace.svc` and
// `name.namespace.svc.cluster.local` with its virtual IP, NXDOMAIN for
// anything else. It listens on the bridge address; each namespace's
// /etc/netns/<ns>/resolv.conf names it and a DNAT rule sends port 53 to the
// port it actually has. The wire format (RFC 1035 §4) is small enough to write here.

import dgram from 'node:dgram';
import { CLUSTER_DOMAIN } from './constants.js';

const TYPE_A = 1;
const CLASS_IN = 1;
const RCODE_FORMERR = 1;
const RCODE_NXDOMAIN = 3;
const RCODE_NOTIMP = 4;
/** Seconds resolvers may cache an answer; VIPs are stable, but Services come and go. */
const TTL = 5;

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

/** Parses a query: its id, flags, the single question and where the question ends. Throws on malformed input. */
export function parseQuery(msg: Buffer): { id: number; flags: number; question: DnsQuestion; end: number } {
  if (msg.length < 12) throw new Error('short header');
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  const qdcount = msg.readUInt16BE(4);
  if (qdcount !== 1) throw new Error(`${qdcount} questions`);
  let off = 12;
  const labels: string[] = [];
  for (;;) {
    if (off >= msg.length) throw new Error('name runs past the end');
    const len = msg[off]!;
    if (len === 0) {
      off++;
      break;
    }
    // Queries carry no compression pointers (0xC0) and labels are at most 63 bytes.
    if (len > 63) throw new Error('bad label');
    if (off + 1 + len > msg.length) throw new Error('label runs past the end');
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off + 4 > msg.length) throw new Error('no type and class');
  const question = { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(off), class: msg.readUInt16BE(off + 2) };
  return { id, flags, question, end: off + 4 };
}

/** Builds the response to `query`: rcode, and zero or one A record. */
export function buildResponse(query: Buffer, parsed: { id: number; flags: number; end: number }, rcode: number, address?: string): Buffer {
  const opcode = (parsed.flags >> 11) & 0xf;
  const rd = (parsed.flags >> 8) & 1;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(parsed.id, 0);
  // QR, opcode, AA (we are the authority for these names), RD copied; no recursion available.
  header.writeUInt16BE(0x8000 | (opcode << 11) | 0x0400 | (rd << 8) | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(address ? 1 : 0, 6);
  const question = query.subarray(12, parsed.end);
  if (!address) return Buffer.concat([header, question]);
  const answer = Buffer.alloc(16);
  answer.writeUInt16BE(0xc00c, 0); // pointer to the name in the question
  answer.writeUInt16BE(TYPE_A, 2);
  answer.writeUInt16BE(CLASS_IN, 4);
  answer.writeUInt32BE(TTL, 6);
  answer.writeUInt16BE(4, 10);
  address.split('.').forEach((o, i) => answer.writeUInt8(Number(o), 12 + i));
  return Buffer.concat([header, question, answer]);
}

/** Header-only error response for a query we cannot parse (id and opcode kept when present). */
function errorResponse(msg: Buffer, rcode: number): Buffer | undefined {
  if (msg.length < 4) return undefined;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(msg.readUInt16BE(0), 0);
  header.writeUInt16BE(0x8000 | (msg.readUInt16BE(2) & 0x7900) | rcode, 2);
  return header;
}

export interface ServiceName {
  namespace: string;
  name: string;
  vip: string;
}

/** Which names the mesh answers, from the Services and which namespace each client address belongs to. */
export class MeshNames {
  private services = new Map<string, string>();
  private clients = new Map<string, string>();

  setServices(list: ServiceName[]): void {
    this.services = new Map(list.map((s) => [`${s.name}.${s.namespace}`.toLowerCase(), s.vip]));
  }

  /** The namespace of the instance at each address, for bare names (`echo` from namespace demo = echo.demo). */
  setClient(address: string, namespace: string | undefined): void {
    if (namespace === undefined) this.clients.delete(address);
    else this.clients.set(address, namespace);
  }

  /** The VIP `qname` names, or undefined. */
  resolve(qname: string, clientAddress?: string): string | undefined {
    const name = qname.toLowerCase().replace(/\.$/, '');
    const parts = name.split('.');
    const domain = ['svc', ...CLUSTER_DOMAIN.split('.')];
    let key: string | undefined;
    if (parts.length === 1) {
      const ns = clientAddress ? this.clients.get(clientAddress) : undefined;
      key = ns ? `${parts[0]}.${ns}` : undefined;
    } else if (parts.length >= 2 && parts.length <= 2 + domain.length) {
      // name.ns, name.ns.svc, name.ns.svc.cluster, name.ns.svc.cluster.local: the tail must be a prefix of the domain.
      const tail = parts.slice(2);
      if (tail.every((p, i) => p === domain[i]) && tail.length !== 2) key = `${parts[0]}.${parts[1]}`;
    }
    return key ? this.services.get(key) : undefined;
  }

  /** Answers one query packet (or returns undefined to drop it). */
  answer(msg: Buffer, clientAddress?: string): Buffer | undefined {
    let parsed: ReturnType<typeof parseQuery>;
    try {
      parsed = parseQuery(msg);
    } catch {
      return errorResponse(msg, RCODE_FORMERR);
    }
    if (parsed.flags & 0x8000) return undefined; // a response, not a query
    if (((parsed.flags >> 11) & 0xf) !== 0) return buildResponse(msg, parsed, RCODE_NOTIMP);
    const q = parsed.question;
    const vip = q.class === CLASS_IN ? this.resolve(q.name, clientAddress) : undefined;
    if (!vip) return buildResponse(msg, parsed, RCODE_NXDOMAIN);
    // The name exists: A gets the VIP, other types (AAAA, ...) an empty NOERROR answer.
    return buildResponse(msg, parsed, 0, q.type === TYPE_A ? vip : undefined);
  }
}

export interface DnsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves `names` on UDP `host:port` (port 0 = any free port). */
export async function startDnsServer(names: MeshNames, host: string, port = 0): Promise<DnsServer> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const reply = names.answer(msg, rinfo.address);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => {}); // a send to a vanished client must not crash the runner
  return {
    port: socket.address().port,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
