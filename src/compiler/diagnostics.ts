// Problems the compiler found in otherwise valid resources (dangling
// references, conflicts). They never stop a compilation; they are shown by
// `trellis status` and returned by apply so nothing is ignored silently.

import type { Resource } from '../resources/types.js';

export interface Diagnostic {
  severity: 'warning' | 'error';
  kind: string;
  namespace: string;
  name: string;
  message: string;
}

export class Diagnostics {
  private readonly seen = new Set<string>();
  readonly items: Diagnostic[] = [];

  warn(r: Resource, message: string): void {
    this.add('warning', r, message);
  }

  error(r: Resource, message: string): void {
    this.add('error', r, message);
  }

  /** Raises again a diagnostic recorded earlier (by a memoised piece). */
  replay(d: Diagnostic): void {
    const key = `${d.severity}|${d.kind}/${d.namespace}/${d.name}|${d.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.items.push(d);
  }

  private add(severity: Diagnostic['severity'], r: Resource, message: string): void {
    const key = `${severity}|${r.kind}/${r.metadata.namespace}/${r.metadata.name}|${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.items.push({ severity, kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name, message });
  }
}
