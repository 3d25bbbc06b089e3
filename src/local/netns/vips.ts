// Virtual IPs of Services in isolated mode, from 198.19.0.0/16: derived from a
// hash of `namespace/name`, so the same Service gets the same address on every
// run, and kept in the state directory (vips.json) so a collision resolved once
// stays resolved the same way. The addresses never appear on the wire: each
// namespace's iptables rules redirect connections to <VIP>:<port> to the local
// sidecar before they leave.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { VIP_NET_PREFIX } from './constants.js';

export class VipAllocator {
  private readonly byService = new Map<string, string>();
  private readonly used = new Set<string>();

  constructor(private readonly file?: string) {
    if (!file) return;
    try {
      const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
      for (const [k, v] of Object.entries(saved)) {
        if (typeof v === 'string' && v.startsWith(`${VIP_NET_PREFIX}.`) && !this.used.has(v)) {
          this.byService.set(k, v);
          this.used.add(v);
        }
      }
    } catch {
      // none yet
    }
  }

  /** The VIP of Service `namespace/name`, allocated on first use. */
  vipOf(namespace: string, name: string): string {
    const key = `${namespace}/${name}`;
    const known = this.byService.get(key);
    if (known) return known;
    const h = crypto.createHash('sha256').update(key).digest();
    let n = h.readUInt16BE(0);
    for (let i = 0; i < 65536; i++, n = (n + 1) & 0xffff) {
      const hi = n >> 8;
      const lo = n & 0xff;
      // Skip .0 and .255 host parts: never used on the wire, but less surprising to read.
      if (lo === 0 || lo === 255) continue;
      const vip = `${VIP_NET_PREFIX}.${hi}.${lo}`;
      if (this.used.has(vip)) continue;
      this.byService.set(key, vip);
      this.used.add(vip);
      this.save();
      return vip;
    }
    throw new Error('no free virtual IP in 198.19.0.0/16');
  }

  private save(): void {
    if (!this.file) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.writeFileSync(this.file + '.tmp', JSON.stringify(Object.fromEntries(this.byService), null, 1));
    fs.renameSync(this.file + '.tmp', this.file);
  }
}
