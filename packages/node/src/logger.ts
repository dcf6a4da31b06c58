/**
 * The node's structured logger: pino, JSON lines to stderr (stdout stays free for the CLI's
 * own output). Components take the small `Logger` interface of service.ts, which a pino
 * logger satisfies, so tests pass `silentLogger` and nothing else needs pino.
 *
 * Secrets must never reach a log call (STYLE.md "Secrets never print"); as a second line of
 * defence the fields below are redacted wherever they appear in the first four levels of a
 * logged object, so a careless `log.debug({ req })` still prints no kfrag, path or token.
 */
import { InvalidArgumentError } from '@thresh/protocol';
import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';
import type { Logger as ServiceLogger } from './service.js';

/** A pino logger; assignable to service.ts's `Logger`. */
export type Logger = PinoLogger;

// Compile-time check: every pino logger is a service Logger.
const _assignable = (l: Logger): ServiceLogger => l;
void _assignable;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Field names redacted at any of the first four levels of a logged object. */
export const REDACTED_FIELDS = [
  'kfrag',
  'kfrags',
  'sealedKFrag',
  'secret',
  'secretKey',
  'privateKey',
  'passphrase',
  'token',
  'adminToken',
  'path',
  'authorization',
  'cookie',
] as const;

const REDACT_DEPTH = 4;

function redactPaths(): string[] {
  const out: string[] = [];
  for (const field of REDACTED_FIELDS) {
    for (let depth = 0; depth < REDACT_DEPTH; depth++) out.push(`${'*.'.repeat(depth)}${field}`);
  }
  return out;
}

export interface LoggerInit {
  /** One of LOG_LEVELS. @default 'info' */
  level?: string;
  /** The `name` field of every line. @default 'thresh' */
  name?: string;
  /** Where lines go. @default stderr (fd 2), written synchronously so a crash loses nothing. */
  destination?: DestinationStream;
}

/** A pino logger with the node's settings; throws on an unknown level. */
export function createLogger(init: LoggerInit = {}): Logger {
  const level = init.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new InvalidArgumentError(
      'level',
      `expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`,
    );
  }
  const destination = init.destination ?? pino.destination({ dest: 2, sync: true });
  return pino(
    {
      level,
      name: init.name ?? 'thresh',
      redact: { paths: redactPaths(), censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
