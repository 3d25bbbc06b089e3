// products-db: a real PostgreSQL server for the Widgetario demo, started fresh
// for each instance.
//
// 1. Creates a working folder under DATA_ROOT (default: the system temporary
//    folder), `trellis-products-db-XXXXXX/`, with `data/` and `sock/`.
// 2. initdb into data/ (user POSTGRES_USER, password POSTGRES_PASSWORD;
//    connections over TCP need the password (scram-sha-256)).
// 3. Loads products-db.sql (schema + seed) into the database POSTGRES_DB in
//    single-user mode, before anything listens, so a client that can connect
//    finds the data.
// 4. Runs `postgres` on 127.0.0.1:$PORT (listen_addresses=127.0.0.1, unix
//    socket in sock/) until SIGTERM/SIGINT, then stops it (fast shutdown:
//    open sessions are ended) and deletes the working folder.
//
// PostgreSQL refuses to run as root: when this launcher runs as root, initdb
// and postgres run as the `postgres` system user (created by Debian's
// postgresql package) through spawn's uid/gid. The binaries are found in
// PG_BIN, else the newest /usr/lib/postgresql/<version>/bin (Debian), else PATH.
//
// Working folders of launchers that died without cleaning up (SIGKILL) are
// removed at the next start. The data lives as long as the process: a
// restarted instance starts from the seed again.
//
// Env: PORT (required), POSTGRES_USER (widgetario), POSTGRES_PASSWORD (widgetario),
// POSTGRES_DB (widgetario), PG_BIN, DATA_ROOT, SEED_FILE (products-db.sql beside this file).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { env, errorText, intEnv, log } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const port = intEnv('PORT', 0);
const user = env('POSTGRES_USER', 'widgetario');
const password = env('POSTGRES_PASSWORD', 'widgetario');
const database = env('POSTGRES_DB', 'widgetario');
const seedFile = path.resolve(env('SEED_FILE', path.join(here, 'products-db.sql')));
const dataRoot = path.resolve(env('DATA_ROOT', os.tmpdir()));
const PREFIX = 'trellis-products-db-';

function fail(message) {
  log(`error: ${message}`);
  process.exit(1);
}

if (!port) fail('PORT is not set (the Workload needs a port; trellis sets PORT)');
if (!/^[a-z_][a-z0-9_]*$/.test(user) || !/^[a-z_][a-z0-9_]*$/.test(database)) {
  fail('POSTGRES_USER and POSTGRES_DB must be plain lower-case identifiers');
}

/** The directory holding initdb and postgres. */
function findBinDir() {
  const has = (dir) => fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'postgres'));
  const explicit = env('PG_BIN');
  if (explicit) {
    if (has(explicit)) return explicit;
    fail(`PG_BIN=${explicit} has no initdb and postgres`);
  }
  const debian = '/usr/lib/postgresql';
  const versions = fs.existsSync(debian)
    ? fs.readdirSync(debian).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a))
    : [];
  for (const v of versions) if (has(path.join(debian, v, 'bin'))) return path.join(debian, v, 'bin');
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir && has(dir)) return dir;
  fail('PostgreSQL is not installed: no initdb/postgres in PG_BIN, /usr/lib/postgresql/*/bin or PATH (Debian: apt-get install postgresql)');
}

/** uid/gid to run PostgreSQL as: ourselves, or the `postgres` user when we are root. */
function runAs() {
  if (process.getuid?.() !== 0) return {};
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) fail('running as root and there is no `postgres` user: PostgreSQL refuses to run as root (Debian: apt-get install postgresql creates the user)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Removes working folders whose launcher is gone. */
function removeStale() {
  for (const name of fs.readdirSync(dataRoot)) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = path.join(dataRoot, name);
    try {
      const pid = Number(fs.readFileSync(path.join(dir, 'launcher.pid'), 'utf8'));
      if (pid && alive(pid)) continue;
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // not ours, or being created right now
    }
  }
}

/** Runs a command to completion; resolves with its stderr; rejects on a non-zero exit. */
function run(cmd, args, { input, ...opts } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(stderr);
      else reject(new Error(`${path.basename(cmd)} ${args[0] ?? ''} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
    child.stdin.end(input);
  });
}

const binDir = findBinDir();
const ids = runAs();
removeStale();
const work = fs.mkdtempSync(path.join(dataRoot, PREFIX));
fs.writeFileSync(path.join(work, 'launcher.pid'), String(process.pid));
const dataDir = path.join(work, 'data');
const sockDir = path.join(work, 'sock');
fs.mkdirSync(sockDir);
if (ids.uid !== undefined) {
  fs.chownSync(work, ids.uid, ids.gid);
  fs.chownSync(sockDir, ids.uid, ids.gid);
}
const childEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };
const common = { ...ids, cwd: work, env: childEnv };
const cleanup = () => fs.rmSync(work, { recursive: true, force: true });

let postgres;
let stopping = false;

async function stop(signal) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping postgres`);
  if (postgres && postgres.exitCode === null && postgres.signalCode === null) {
    const exited = new Promise((resolve) => postgres.once('exit', resolve));
    postgres.kill('SIGINT'); // fast shutdown: ends open sessions, unlike SIGTERM's "smart" one
    const timer = setTimeout(() => postgres.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
  cleanup();
  process.exit(0);
}
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => void stop(sig));

try {
  const started = Date.now();
  const pwFile = path.join(work, 'pwfile');
  fs.writeFileSync(pwFile, password + '\n', { mode: 0o600 });
  if (ids.uid !== undefined) fs.chownSync(pwFile, ids.uid, ids.gid);
  await run(
    path.join(binDir, 'initdb'),
    ['-D', dataDir, '-U', user, `--pwfile=${pwFile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
    common,
  );
  fs.rmSync(pwFile);
  const single = (db, sql) =>
    run(path.join(binDir, 'postgres'), ['--single', '-j', '-D', dataDir, '-c', 'exit_on_error=on', '-c', 'fsync=off', db], { ...common, input: sql });
  if (database !== 'postgres') await single('postgres', `CREATE DATABASE ${database} OWNER ${user};\n\n`);
  await single(database, fs.readFileSync(seedFile, 'utf8'));
  if (stopping) throw new Error('stopped while initialising');
  log(`initialised ${dataDir} with ${path.basename(seedFile)} in ${Date.now() - started} ms (PostgreSQL from ${binDir})`);
} catch (err) {
  cleanup();
  fail(`cannot initialise the database: ${errorText(err)}`);
}

postgres = spawn(
  path.join(binDir, 'postgres'),
  [
    '-D', dataDir,
    '-p', String(port),
    '-k', sockDir,
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'fsync=off',
    '-c', 'synchronous_commit=off',
    '-c', 'full_page_writes=off',
    '-c', 'max_connections=50',
    '-c', 'shared_buffers=16MB',
    '-c', 'log_connections=off',
  ],
  { ...common, stdio: ['ignore', 'inherit', 'inherit'] },
);
postgres.on('error', (err) => {
  cleanup();
  fail(`cannot start postgres: ${errorText(err)}`);
});
postgres.on('spawn', () => log(`postgres (pid ${postgres.pid}) on 127.0.0.1:${port}, database ${database}, user ${user}`));
postgres.on('exit', (code, signal) => {
  if (stopping) return;
  log(`postgres exited (${signal ?? `code ${code}`})`);
  cleanup();
  process.exit(code || 1);
});
