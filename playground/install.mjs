/**
 * `npm start` and `npm test` run this first (their `pre` scripts): `npm ci` only when `node_modules` is
 * missing or does not match package-lock.json, and one install at a time. So the two set-up commands can
 * run side by side on a fresh clone, and a second one never deletes `node_modules` under the first.
 * Plain Node, no dependency: it runs before anything is installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const lockDir = join(root, '.cache', 'install.lock');

/** Whether every package package-lock.json pins is installed at that version (npm's own record of it). */
function upToDate() {
  let wanted;
  let installed;
  try {
    wanted = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages ?? {};
    installed = JSON.parse(readFileSync(join(root, 'node_modules', '.package-lock.json'), 'utf8')).packages;
  } catch {
    return false;
  }
  return Object.entries(wanted).every(
    ([path, info]) => path === '' || info.optional === true || installed?.[path]?.version === info.version,
  );
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** Takes the install lock, waiting while another live process holds it (a dead holder's lock is taken over). */
async function lock() {
  mkdirSync(join(root, '.cache'), { recursive: true });
  let told = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    let holder = Number.NaN;
    try {
      holder = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
    } catch {
      // the holder is between mkdir and writing its pid, or just released: look again
    }
    if (Number.isInteger(holder) && !alive(holder)) {
      rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (!told) process.stderr.write('install: another `npm ci` of this clone is running; waiting for it.\n');
    told = true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

if (!upToDate()) {
  await lock();
  try {
    if (!upToDate()) {
      process.stderr.write('install: node_modules is missing or out of date; running `npm ci`.\n');
      const npm = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
      if (npm.status !== 0) process.exitCode = npm.status ?? 1;
    }
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}
