/**
 * Typed errors of the client library's owner and reader operations (grant, revoke, decrypt).
 * Every error has a stable `name` and `code`. Transport failures keep their own classes
 * (transport/errors.ts); protocol errors (DecodeError, SignatureError, ...) pass through as
 * @thresh/protocol's ThreshErrors.
 */

export type ClientErrorCode =
  | 'ERR_NO_NODES'
  | 'ERR_NOT_GRANTED'
  | 'ERR_NOT_ENOUGH_FRAGMENTS'
  | 'ERR_GRANT_FAILED'
  | 'ERR_UNKNOWN_POLICY'
  | 'ERR_STATE_FILE'
  | 'ERR_NO_TRANSPORT';

export abstract class ClientError extends Error {
  abstract readonly code: ClientErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Node selection found fewer usable nodes than the grant needs. */
export class NoNodesError extends ClientError {
  override readonly name = 'NoNodesError';
  readonly code = 'ERR_NO_NODES';
  constructor(
    /** Nodes that answered with a valid record and can hold the policy until its expiry. */
    readonly found: number,
    readonly needed: number,
    detail = '',
  ) {
    super(`found ${found} usable node(s), the grant needs ${needed}${detail ? `: ${detail}` : ''}`);
  }
}

/** The grant does not cover the file (path outside its prefix, another owner, no entry for the level). */
export class NotGrantedError extends ClientError {
  override readonly name = 'NotGrantedError';
  readonly code = 'ERR_NOT_GRANTED';
  constructor(
    readonly path: string,
    readonly prefix: string,
    reason: string,
  ) {
    super(`${path} is not covered by the grant of ${prefix}: ${reason}`);
  }
}

/** Why one node gave no usable cfrag (DESIGN.md "Decrypt"). */
export type NodeFailureReason =
  | 'revoked'
  | 'expired'
  | 'not-found'
  | 'timeout'
  | 'bad-proof'
  | 'unreachable'
  | 'wrong-policy'
  | 'duplicate'
  | (string & {});

export interface NodeFailure {
  /** The node id (its compressed signing key), hex. */
  nodeId: string;
  /** Its libp2p PeerId, when it was resolved. */
  peer?: string;
  reason: NodeFailureReason;
  /** Details for logs (never needed for decisions). */
  message?: string;
}

/** Fewer than m valid cfrags: names each node that did not help and why. */
export class NotEnoughFragmentsError extends ClientError {
  override readonly name = 'NotEnoughFragmentsError';
  readonly code = 'ERR_NOT_ENOUGH_FRAGMENTS';
  constructor(
    readonly path: string,
    readonly found: number,
    readonly needed: number,
    readonly failures: readonly NodeFailure[],
  ) {
    const list = failures.map((f) => `${f.nodeId.slice(0, 12)}: ${f.reason}`).join(', ');
    super(`${path}: ${found} valid cfrag(s) of the ${needed} needed (${list || 'no node answered'})`);
  }

  /** The reasons, one per failing node. */
  get reasons(): NodeFailureReason[] {
    return this.failures.map((f) => f.reason);
  }
}

/** Every grant attempt failed (each one abandoned and revoked, DESIGN.md "Grant" step 4). */
export class GrantFailedError extends ClientError {
  override readonly name = 'GrantFailedError';
  readonly code = 'ERR_GRANT_FAILED';
  constructor(
    /** The abandoned policy ids (hex) with the failures of each attempt. */
    readonly attempts: readonly { policyId: string; failures: readonly NodeFailure[] }[],
    options?: { cause?: unknown },
  ) {
    const last = attempts[attempts.length - 1];
    const why = last ? last.failures.map((f) => `${f.nodeId.slice(0, 12)}: ${f.reason}`).join(', ') : '';
    super(`grant failed after ${attempts.length} attempt(s)${why ? ` (last: ${why})` : ''}`, options);
  }
}

/** The policy id is not in this owner's state file. */
export class UnknownPolicyError extends ClientError {
  override readonly name = 'UnknownPolicyError';
  readonly code = 'ERR_UNKNOWN_POLICY';
  constructor(readonly policyId: string) {
    super(`no policy ${policyId} in the local state`);
  }
}

/** The local state file is unreadable or malformed. */
export class StateFileError extends ClientError {
  override readonly name = 'StateFileError';
  readonly code = 'ERR_STATE_FILE';
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
  }
}

/** A network operation on a client made without a transport. */
export class NoTransportError extends ClientError {
  override readonly name = 'NoTransportError';
  readonly code = 'ERR_NO_TRANSPORT';
  constructor() {
    super('this client has no transport: pass one to createClient() for network operations');
  }
}

export function isClientError(e: unknown): e is ClientError {
  return e instanceof ClientError;
}
