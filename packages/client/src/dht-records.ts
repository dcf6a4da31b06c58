import {
  bytesEqual,
  type DhtInnerVerifier,
  decodeDhtValue,
  dhtSelector,
  dhtValidator,
  handoffDhtId,
  RecordMismatchError,
  sealedMapType,
  verifyHandoffCertificate,
  verifyNodeRecord,
  verifyRevocation,
} from '@thresh/protocol';
import type { DhtNamespace } from './transport/libp2p/host.js';

/**
 * The records thresh keeps in the DHT, checked on every put, get and serve (DESIGN.md "DHT
 * records"). The DHT value itself is signed by its signer and its key is H(namespace ||
 * signer || id) (wire/dht-record.ts); here the record inside must agree with both:
 *
 * | namespace | record | checks |
 * |---|---|---|
 * | node | node record | signed by the node the key names, not expired, seq equal to the value's |
 * | revocation | revocation | signed by the owner the key names, revokes the id the key names |
 * | policy-map | sealed map | well-formed (it is sealed to the reader: only the reader can open it; the value's signature is the owner's) |
 * | handoff | handoff certificate | signed by the old node the key names, about the policy digest and kfrag id the key names |
 */
export function threshRecordVerifier(
  now: () => number = () => Math.floor(Date.now() / 1000),
): DhtInnerVerifier {
  return (namespace, signer, record, { id, seq }) => {
    switch (namespace) {
      case 'node': {
        const r = verifyNodeRecord(record, { now: now(), nodeId: signer.toCompressedBytes() });
        if (r.body.seq !== seq)
          throw new RecordMismatchError('dht.seq', "not the node record's sequence number");
        return;
      }
      case 'revocation': {
        const r = verifyRevocation(record, { now: now() });
        if (!r.signed.verify(signer))
          throw new RecordMismatchError('dht.signer', 'not signed by the key owner');
        if (!bytesEqual(r.body.policy, id)) throw new RecordMismatchError('dht.id', 'revokes another policy');
        return;
      }
      case 'policy-map': {
        sealedMapType.decode(record);
        return;
      }
      case 'handoff': {
        const c = verifyHandoffCertificate(record, { now: now() });
        if (!bytesEqual(c.body.from, signer.toCompressedBytes())) {
          throw new RecordMismatchError('dht.signer', 'not the old node');
        }
        if (!bytesEqual(handoffDhtId(c.body.policy, c.body.kfrag), id)) {
          throw new RecordMismatchError('dht.id', 'about another policy or kfrag');
        }
        return;
      }
    }
  };
}

/** kad-dht looks validators up by the key's first segment: every thresh key is '/thresh/...'. */
export const THRESH_DHT_PREFIX = 'thresh';

/** What a host holds for a DHT key now (the DHT value bytes), for sequence ordering. */
export type HeldRecord = (key: Uint8Array) => Promise<Uint8Array | undefined>;

/**
 * The thresh DHT namespace for a libp2p host. With `held`, a value whose sequence number is
 * lower than the value this host already holds for the key is refused (kad-dht stores any valid
 * value on put and never runs selectors there: ordering is ours to enforce, DESIGN.md "DHT
 * records"). Equal sequence numbers are accepted (republishing).
 */
export function threshDhtNamespaces(now?: () => number, held?: HeldRecord): Record<string, DhtNamespace> {
  const validate = dhtValidator(threshRecordVerifier(now));
  return {
    [THRESH_DHT_PREFIX]: {
      validate: async (key, value) => {
        await validate(key, value);
        if (!held) return;
        const current = await held(key);
        if (current === undefined) return;
        let currentSeq: number;
        try {
          currentSeq = decodeDhtValue(current).seq;
        } catch {
          return; // what we hold does not decode: let the new value replace it
        }
        if (decodeDhtValue(value).seq < currentSeq) {
          throw new RecordMismatchError('dht.seq', `older than the held value (seq ${currentSeq})`);
        }
      },
      select: dhtSelector,
    },
  };
}
