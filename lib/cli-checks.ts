// Checks the CLI makes before it starts work whose result it would otherwise lose.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Throws unless the folder `file` would be written in exists and is writable (`option` names the flag). */
export function checkOutputFolder(option: string, file: string): void {
  const dir = dirname(resolve(file));
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new Error(`${option} ${file}: the folder ${dir} does not exist (create it first)`);
  }
  if (!isDir) throw new Error(`${option} ${file}: ${dir} is not a folder`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new Error(`${option} ${file}: the folder ${dir} is not writable`);
  }
}
