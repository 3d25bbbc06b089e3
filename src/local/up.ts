// `trellis up DIR`: validates the folder's manifests, starts the control plane
// and every workload with its sidecar, prints what runs where, and on Ctrl-C
// stops every process it started.

import fs from 'node:fs';
import path from 'node:path';
import { listManifestFiles, loadManifests } from '../resources/load.js';
import { formatManifestError } from '../resources/errors.js';
import type { MeshConfigResource } from '../resources/types.js';
import { cleanupLeftovers } from './cleanup.js';
import { NetnsIsolation } from './netns/isolation.js';
import { netnsPrerequisites } from './netns/prerequisites.js';
import { missingPrograms } from './requirements.js';
import { LocalRunner } from './runner.js';
import { isAlive, readMeshInfo, statePaths, writeActivePointer, writeMeshInfo, type MeshInfo } from './state-dir.js';
import { readinessTable } from './table.js';

export interface UpOptions {
  dir: string;
  stateDir?: string;
  quiet?: boolean;
  isolation?: 'process' | 'netns';
  /** Where lines go (default stdout). */
  log?: (line: string) => void;
}

/** `DIR/mesh/` holds what `up` loads when it exists; files beside it are applied later by hand. */
export function manifestDirOf(dir: string): string {
  const mesh = path.join(dir, 'mesh');
  return fs.existsSync(mesh) && fs.statSync(mesh).isDirectory() ? mesh : dir;
}

export async function runUp(opts: UpOptions): Promise<number> {
  const log = opts.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const dir = path.resolve(opts.dir);
  // --- isolated mode (src/local/netns, docs/isolation.md): root and tools first ---
  if (opts.isolation === 'netns') {
    const problem = netnsPrerequisites();
    if (problem) {
      for (const line of problem) log(line);
      return 2;
    }
  }
  if (!fs.existsSync(dir)) {
    log(`error: ${opts.dir}: no such directory`);
    return 1;
  }
  const stateDir = path.resolve(opts.stateDir ?? path.join(dir, '.trellis'));
  const previous = readMeshInfo(stateDir);
  if (previous && previous.runnerPid !== process.pid && isAlive(previous.runnerPid)) {
    log(`error: a mesh from ${stateDir} is already running (pid ${previous.runnerPid}); stop it first`);
    return 1;
  }

  const manifestDir = manifestDirOf(dir);
  const parsed = await loadManifests(manifestDir);
  for (const w of parsed.warnings) log(`warning: ${formatManifestError(w)}`);
  for (const f of parsed.foreign) log(`note: ${f.source.file}: ${f.kind} ${f.namespace}/${f.name}: ${f.advice}`);
  if (parsed.errors.length > 0) {
    for (const e of parsed.errors) log(`error: ${formatManifestError(e)}`);
    log(`${parsed.errors.length} error(s): nothing was started`);
    return 1;
  }

  const missing = missingPrograms(parsed.resources);
  if (missing.length > 0) {
    for (const line of missing) log(line);
    log('nothing was started');
    return 1;
  }

  // Start clean: processes of a crashed run go, and so does its store.
  cleanupLeftovers(stateDir, log);
  const paths = statePaths(stateDir);
  fs.rmSync(paths.store, { recursive: true, force: true });
  fs.rmSync(paths.proxies, { recursive: true, force: true });

  // --- isolated mode: the bridge and DNS server now; namespaces as instances start ---
  let isolation: NetnsIsolation | undefined;
  if (opts.isolation === 'netns') {
    try {
      isolation = await NetnsIsolation.create(stateDir, log);
    } catch (err) {
      log(`error: ${(err as Error).message}`);
      return 1;
    }
  }

  // The compiler uses the oldest MeshConfig; at start all are equally old, so the first by name.
  const meshConfig = parsed.resources
    .filter((r): r is MeshConfigResource => r.kind === 'MeshConfig')
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))[0];
  let info: MeshInfo | undefined;
  const runner = new LocalRunner({
    stateDir,
    trustDomain: meshConfig?.spec.trustDomain ?? 'cluster.local',
    quiet: opts.quiet ?? false,
    log,
    isolation,
    onControlPlaneStart: (pid) => {
      if (!info) return;
      info = { ...info, controlPlanePid: pid };
      writeMeshInfo(stateDir, info);
    },
  });

  let stopping: Promise<number> | undefined;
  const stop = (code: number) => {
    stopping ??= (async () => {
      log('stopping: every workload, sidecar and the control plane');
      await runner.stop();
      await isolation?.close(); // isolated mode: namespaces, links, bridge, rules
      fs.rmSync(paths.meshInfo, { force: true });
      return code;
    })();
    return stopping;
  };
  const onSignal = () => void stop(0);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (isolation) process.once('SIGHUP', onSignal); // isolated mode: a closed terminal must not leave namespaces behind
  // A parent that holds our stdin (tests, supervisors) stops the mesh by going away.
  if (process.env.TRELLIS_EXIT_WITH_STDIN === '1') {
    process.stdin.once('end', onSignal);
    process.stdin.once('close', onSignal);
    process.stdin.resume();
    // Listening must not keep `up` alive once the mesh has stopped.
    (process.stdin as unknown as { unref?: () => void }).unref?.();
  }

  try {
    await runner.startControlPlane();
    info = {
      runnerPid: process.pid,
      controlPlanePid: runner.controlPlane?.pid,
      adminUrl: `http://127.0.0.1:${runner.adminPort}`,
      xdsPort: runner.xdsPort,
      manifestDir,
      startedAt: new Date().toISOString(),
    };
    writeMeshInfo(stateDir, info);
    writeActivePointer(stateDir);
    const files = (await listManifestFiles(manifestDir)).map((f) => ({ path: f, content: fs.readFileSync(f, 'utf8') }));
    await runner.client.apply({ files });
    await runner.reconcile();
    runner.startReconciling();
    log(`control plane: ${`http://127.0.0.1:${runner.adminPort}`} (state in ${stateDir})`);

    const started = Date.now();
    while (!stopping && !runner.allReady()) {
      await new Promise((r) => setTimeout(r, 100));
      if (Date.now() - started > 60_000) {
        log('warning: not every instance is ready after 60 s:');
        break;
      }
    }
    if (!stopping) {
      log(readinessTable(runner));
      log(`all ready in ${((Date.now() - started) / 1000).toFixed(1)} s — Ctrl-C stops everything`);
    }
  } catch (err) {
    log(`error: ${(err as Error).message}`);
    return stop(1);
  }
  return new Promise<number>((resolve) => {
    const check = setInterval(() => {
      if (stopping) {
        clearInterval(check);
        void stopping.then(resolve);
      }
    }, 100);
  });
}
