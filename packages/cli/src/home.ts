import { homedir } from 'node:os';
import { join } from 'node:path';

/** THRESH_HOME (default ~/.thresh): key files, the owner's policy state, the local cluster file. */
export function threshHome(): string {
  return process.env.THRESH_HOME || join(homedir(), '.thresh');
}

export function defaultNodeDir(): string {
  return join(threshHome(), 'node');
}
