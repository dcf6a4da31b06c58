/**
 * kad-dht pings every peer before it adds it to its routing table (its KBucket's `verify`), even
 * a peer that has just answered identify on a connection opened a moment ago: the ping proves
 * nothing more, and it is a stream of its own (multistream-select, a yamux stream opened and
 * closed) on each side. In a cluster forming, those pings were ~45% of all streams opened
 * (bench:cluster counted 1,300 ping streams against 1,186 identify streams for 50 nodes).
 *
 * Worse, the add is given up when that ping takes longer than kad-dht's onPeerConnectTimeout
 * (10 s), and is not tried again while the connection stays open. A client whose one bootstrap
 * node was too busy to answer in time (bench:cluster's new clients, on a 50-node cluster still
 * forming) kept an empty routing table with an open connection: every lookup waited for a
 * first peer until its deadline, for minutes.
 *
 * `skipRedundantContactPings` replaces that check: a peer that completed identify with us within
 * `freshMs`, over a connection still open, counts as verified (as kad-dht itself counts a peer
 * it pinged within its `lastPingThreshold`, ten minutes); any other peer is pinged as before.
 * Only new contacts are concerned: kad-dht's pings of old contacts, when a bucket is full, are
 * untouched.
 *
 * It reaches into kad-dht's routing table (`routingTable.kb.verify`, public in its types). If a
 * kad-dht release moves it, `skipRedundantContactPings` returns false and kad-dht keeps its own
 * check; a test (packages/client/test/contact-check.test.ts) fails then.
 */
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface';
import type { KadDHT } from '@libp2p/kad-dht';

/** A peer identified this recently, on a connection still open, is not pinged again. */
export const FRESH_IDENTIFY_MS = 60_000;
/** Peers remembered at most (the oldest are forgotten first). */
const MAX_REMEMBERED = 4096;

/** What we touch of kad-dht's routing table (RoutingTable and KBucket are not exported). */
type Verify = (contact: { peerId: PeerId }, options?: AbortOptions) => Promise<boolean>;
interface RoutingTableInternals {
  kb?: { verify?: Verify };
  dispatchEvent?: (event: Event) => boolean;
}

/** Installs the check on `node`'s kad-dht; false (and nothing changed) if it cannot. */
export function skipRedundantContactPings(
  node: Libp2p<{ dht: KadDHT }>,
  freshMs: number = FRESH_IDENTIFY_MS,
): boolean {
  const table = (node.services.dht as { routingTable?: RoutingTableInternals }).routingTable;
  const kb = table?.kb;
  const kadVerify = kb?.verify;
  const dispatch = table?.dispatchEvent?.bind(table);
  if (kb == null || typeof kadVerify !== 'function' || dispatch == null) return false;
  const identifiedAt = new Map<string, number>();
  node.addEventListener('peer:identify', (event) => {
    const id = event.detail.peerId.toString();
    identifiedAt.delete(id); // re-inserted last: the map stays in order of identification
    identifiedAt.set(id, Date.now());
    if (identifiedAt.size > MAX_REMEMBERED) {
      const oldest = identifiedAt.keys().next().value;
      if (oldest !== undefined) identifiedAt.delete(oldest);
    }
  });
  const fresh = (peer: PeerId): boolean => {
    const at = identifiedAt.get(peer.toString());
    if (at === undefined || Date.now() - at > freshMs) return false;
    return node.getConnections(peer).some((c) => c.status === 'open');
  };
  const verify: Verify = async (contact, options) => {
    if (!fresh(contact.peerId)) return kadVerify.call(kb, contact, options);
    // what kad-dht's own ping would have announced (its closest-peer tagging listens for it)
    dispatch(new CustomEvent('peer:ping', { detail: contact.peerId }));
    return true;
  };
  kb.verify = verify;
  return true;
}
