// Memoisation across compilations. The store hands out the same frozen object
// for a resource until it changes, so a compiled piece whose inputs are the
// same objects as last time is the same piece: reusing it keeps its hash and
// serialised form, and an unchanged mesh of 10,000 endpoints recompiles in
// milliseconds. The output is exactly what a fresh compilation would produce;
// the diagnostics a piece raised are raised again when it is reused.

import type { Diagnostic, Diagnostics } from './diagnostics.js';

interface Entry {
  inputs: readonly unknown[];
  value: unknown;
  diagnostics: Diagnostic[];
  generation: number;
}

export class CompileCache {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;

  /**
   * Starts a compilation. Entries the previous one did not use go: those it
   * used (snapshots assembled on demand after it returned included) stay.
   */
  begin(): void {
    for (const [k, e] of this.entries) if (e.generation < this.generation) this.entries.delete(k);
    this.generation++;
  }

  get size(): number {
    return this.entries.size;
  }

  memo<T>(key: string, inputs: readonly unknown[], diagnostics: Diagnostics, compute: () => T): T {
    const e = this.entries.get(key);
    if (e && sameInputs(e.inputs, inputs)) {
      e.generation = this.generation;
      for (const d of e.diagnostics) diagnostics.replay(d);
      return e.value as T;
    }
    const before = diagnostics.items.length;
    const value = compute();
    this.entries.set(key, { inputs, value, diagnostics: diagnostics.items.slice(before), generation: this.generation });
    return value;
  }
}

function sameInputs(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
