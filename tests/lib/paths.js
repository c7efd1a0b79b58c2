// paths.js - where tests find the repo and the shared real models/data.
//   repoRoot()          the repository root
//   sharedDir()         process.env.SP_SHARED, else <repo>/../shared
//   sharedPath(rel)     <shared>/<rel>; throws a clear Error (code 'SP_ERR_MISSING_FILE') when missing
//   modelPath(rel)      <shared>/models/<rel>, same check (e.g. modelPath('stories260K/stories260K.gguf'))
//   dataPath(rel)       <shared>/data/<rel>, same check
//   hasShared()         true when the shared folder exists (tests FAIL, not skip, on a missing file then)
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function repoRoot() {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function sharedDir() {
  return process.env.SP_SHARED ? resolve(process.env.SP_SHARED) : resolve(repoRoot(), '..', 'shared');
}

export function hasShared() {
  const d = sharedDir();
  return existsSync(d) && statSync(d).isDirectory();
}

export class MissingFileError extends Error {
  constructor(message) { super(message); this.name = 'MissingFileError'; this.code = 'SP_ERR_MISSING_FILE'; }
}

export function sharedPath(rel) {
  const p = join(sharedDir(), rel);
  if (!existsSync(p)) {
    throw new MissingFileError(`shared file missing: ${p} (shared folder ${sharedDir()}${hasShared() ? '' : ' does not exist'}; set SP_SHARED to override)`);
  }
  return p;
}

export function modelPath(rel) { return sharedPath(join('models', rel)); }
export function dataPath(rel) { return sharedPath(join('data', rel)); }
