// Checks the CLI makes before it starts work whose result it would otherwise lose.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Throws unless the folder `file` would be written in exists and is writable (`option` names the flag). */
export function checkOutputFolder(option: string, given: string): void {
  const file = given.replaceAll('{epoch}', '1'); // a --checkpoint pattern's folder
  const dir = dirname(resolve(file));
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new Error(`${option} ${given}: the folder ${dir} does not exist (create it first)`);
  }
  if (!isDir) throw new Error(`${option} ${given}: ${dir} is not a folder`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new Error(`${option} ${given}: the folder ${dir} is not writable`);
  }
}
