/**
 * @libp2p/tcp writes each buffer of what it is given with its own `socket.write`, and Noise hands
 * it every frame as two buffers: the 2-byte length, then the ciphertext. On a socket that is not
 * backed up, each `socket.write` is a `write(2)` at once: two system calls per frame, the first
 * sending a TCP segment of two bytes that wakes the peer to read them alone. On loopback that
 * was 15 writes per 3-of-5 decrypt, ~1 ms of the client's CPU.
 *
 * `coalescingTcp` is @libp2p/tcp with one change: a connection's outgoing buffers are joined
 * into one before they reach the socket (a copy of a frame, against a system call saved), so a
 * frame is one write. It wraps the upgrader the transport is given, which receives every
 * connection (dialled or accepted) before anything is sent on it, and replaces that connection's
 * `sendData` (AbstractMultiaddrConnection's one method that sends bytes). Nothing else of the
 * transport changes. `coalescedConnections` counts the connections it was applied to (tests).
 */
import type {
  CreateListenerOptions,
  DialTransportOptions,
  MultiaddrConnection,
  Transport,
  Upgrader,
} from '@libp2p/interface';
import { type TCPComponents, type TCPOptions, tcp } from '@libp2p/tcp';
import type { Multiaddr } from '@multiformats/multiaddr';

let coalesced = 0;
/** Connections whose writes were joined, since the process started. */
export const coalescedConnections = (): number => coalesced;

/** What a connection sends: a list of buffers (libp2p's Uint8ArrayList, not a dependency here). */
interface BufferList extends Iterable<Uint8Array> {
  /** The bytes as one buffer: the list's own buffer when it holds one, else a copy. */
  subarray(): Uint8Array;
}

interface Sends {
  sendData?: (data: BufferList) => unknown;
}

/** Joins the buffers of every send of `maConn` into one; leaves it alone if it cannot. */
function coalesce(maConn: MultiaddrConnection): MultiaddrConnection {
  const conn = maConn as MultiaddrConnection & Sends;
  const send = conn.sendData;
  if (typeof send !== 'function') return maConn;
  conn.sendData = function (this: unknown, data: BufferList) {
    // subarray() copies only when the list holds more than one buffer; the new list is of the
    // list's own class (libp2p's copy of uint8arraylist)
    const List = data.constructor as new (...bufs: Uint8Array[]) => BufferList;
    return send.call(this, new List(data.subarray()));
  };
  coalesced++;
  return maConn;
}

function coalescingUpgrader(upgrader: Upgrader): Upgrader {
  return new Proxy(upgrader, {
    get(target, prop) {
      if (prop === 'upgradeInbound') {
        return (maConn: MultiaddrConnection, opts: Parameters<Upgrader['upgradeInbound']>[1]) =>
          target.upgradeInbound(coalesce(maConn), opts);
      }
      if (prop === 'upgradeOutbound') {
        return (maConn: MultiaddrConnection, opts: Parameters<Upgrader['upgradeOutbound']>[1]) =>
          target.upgradeOutbound(coalesce(maConn), opts);
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** @libp2p/tcp, each frame written with one system call (see above). */
export function coalescingTcp(init?: TCPOptions): (components: TCPComponents) => Transport {
  const factory = tcp(init);
  return (components) => {
    const inner = factory(components);
    return new Proxy(inner, {
      get(target, prop) {
        if (prop === 'dial') {
          return (ma: Multiaddr, options: DialTransportOptions) =>
            target.dial(ma, { ...options, upgrader: coalescingUpgrader(options.upgrader) });
        }
        if (prop === 'createListener') {
          return (options: CreateListenerOptions) =>
            target.createListener({ ...options, upgrader: coalescingUpgrader(options.upgrader) });
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };
}
