/**
 * thresh over libp2p: the host (TCP, Noise, Yamux, kad-dht in thresh's namespace), one-frame
 * request/response, and DHT helpers with deadlines. Load '@thresh/protocol/polyfill' first on
 * Node 20.
 *
 * @example
 * ```ts
 * import '@thresh/protocol/polyfill';
 * const host = await createThreshLibp2p({ privateKey, bootstrap: ['/ip4/127.0.0.1/tcp/7000/p2p/16Uiu2...'] });
 * const reply = await request(host, nodePeerId, '/thresh/status/1.0.0', requestBytes, { timeoutMs: 5_000 });
 * await host.stop();
 * ```
 */
export * from './dht.js';
export * from './host.js';
export * from './rpc.js';
export * from './session.js';
