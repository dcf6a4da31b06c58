import type { Command } from 'commander';
import { registerFileCommands } from './files.js';
import { registerGrantCommands } from './grants.js';
import { registerKeysCommands } from './keys.js';

/** The owner, reader and writer commands: keys, encrypt, dir-key, grant, decrypt, revoke, policies. */
export function registerClientCommands(program: Command): void {
  registerKeysCommands(program);
  registerFileCommands(program);
  registerGrantCommands(program);
}
