/**
 * Joins the DHT through the configured bootstrap multiaddrs (DESIGN.md "Nodes": Discovery).
 * A stand-in for @libp2p/bootstrap, which is not a dependency: dial every bootstrap address
 * when the host starts, and again every `retryMs` while the host has no connection at all
 * (nodes of a cluster start in any order, so the bootstrap node may not be listening yet).
 * Once connected, identify tells kad-dht the peer speaks the DHT protocol and the DHT's own
 * self-queries find everybody else.
 */
import { setMaxListeners } from 'node:events';
import type { Libp2p, Logger } from '@libp2p/interface';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';

export class BootstrapDialer {
  private readonly addrs: Multiaddr[];
  private readonly log: Logger;
  private timer: ReturnType<typeof setInterval> | undefined;
  private controller: AbortController | undefined;

  constructor(
    private readonly node: Libp2p,
    bootstrap: string[],
    private readonly retryMs: number,
    private readonly dialTimeoutMs: number,
  ) {
    this.log = node.logger.forComponent('thresh:bootstrap');
    const self = node.peerId.toString();
    // A shared cluster config lists every bootstrap node, including, on that node, itself.
    this.addrs = bootstrap
      .map((a) => multiaddr(a))
      .filter((ma) => !ma.getComponents().some((c) => c.name === 'p2p' && c.value === self));
  }

  /** Dials on every 'start' of the host and stops on its 'stop'. */
  attach(): void {
    this.node.addEventListener('start', () => this.start());
    this.node.addEventListener('stop', () => this.stop());
  }

  private start(): void {
    this.stop();
    this.controller = new AbortController();
    void this.dialAll();
    if (this.retryMs > 0) {
      this.timer = setInterval(() => {
        if (this.node.getConnections().length === 0) void this.dialAll();
      }, this.retryMs);
      this.timer.unref?.();
    }
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.controller?.abort();
    this.controller = undefined;
  }

  private async dialAll(): Promise<void> {
    const stopped = this.controller?.signal;
    if (stopped == null || stopped.aborted) return;
    const signal = AbortSignal.any([stopped, AbortSignal.timeout(this.dialTimeoutMs)]);
    // one signal for every dial, and libp2p's dial queue adds listeners to it per dial
    setMaxListeners(Math.max(10, 4 * this.addrs.length), signal);
    await Promise.all(
      this.addrs.map(async (ma) => {
        try {
          await this.node.dial(ma, { signal });
          this.log('connected to bootstrap peer %a', ma);
        } catch (e) {
          this.log('bootstrap dial to %a failed - %e', ma, e);
        }
      }),
    );
  }
}
