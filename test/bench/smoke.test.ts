// Smoke test of the data-plane benchmark harness: `node dist/bench/run.js
// --smoke` runs every pair for 1 s per phase and must produce a report with a
// non-zero max throughput for each pair, in its own phase and in the
// interleaved rounds (with the reference pairs). Skipped when nginx, haproxy or wrk
// are not installed (.ci/run installs them).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../support/paths.js';

const TOOLS = ['/usr/sbin/nginx', '/usr/sbin/haproxy', '/usr/bin/wrk'];
const PAIRS = ['direct', 'trellis', 'haproxy', 'node-http-proxy'];

test('bench --smoke runs every pair and reports a max throughput for each', { timeout: 180_000 }, async (t) => {
  const missing = TOOLS.filter((f) => !fs.existsSync(f));
  if (missing.length) {
    t.skip(`benchmark tools missing: ${missing.join(', ')} (apt-get install nginx-light haproxy wrk)`);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-smoke-'));
  const out = path.join(dir, 'RESULTS.md');
  try {
    const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'bench', 'run.js'), '--smoke', '--out', out], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), 170_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(timer);
    assert.equal(code, 0, `bench --smoke exited with ${code}:\n${output}`);
    const report = fs.readFileSync(out, 'utf8');
    const section = report.split('## Max throughput')[1]?.split('\n## ')[0] ?? '';
    for (const pair of PAIRS) {
      const row = section.split('\n').find((l) => l.startsWith(`| ${pair} |`));
      assert.ok(row, `no max-throughput row for ${pair} in:\n${report}`);
      const rps = Number(row.split('|')[2]!.trim().replace(/,/g, ''));
      assert.ok(rps > 0, `max throughput of ${pair} is not a positive number: ${row}`);
    }
    // Interleaved rounds: every pair plus the two references, and the per-round ratios.
    const rounds = report.split('## Max throughput, interleaved rounds')[1]?.split('\n## ')[0] ?? '';
    for (const pair of [...PAIRS, 'node-tls-pipe', 'node-mux-pipe']) {
      const row = rounds.split('\n').find((l) => l.startsWith(`| ${pair} `));
      assert.ok(row, `no interleaved-rounds row for ${pair} in:\n${report}`);
      const cells = row.split('|');
      const median = Number(cells[cells.length - 4]!.trim().replace(/,/g, ''));
      assert.ok(median > 0, `median req/s of ${pair} over the rounds is not a positive number: ${row}`);
    }
    assert.match(rounds, /^\| trellis \/ haproxy \| [\d.]+ \| [\d.]+ \|$/m, `no trellis / haproxy ratio in:\n${rounds}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
