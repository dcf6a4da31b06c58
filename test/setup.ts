// libp2p 3 needs Promise.withResolvers, which Node 20 lacks (DEVELOPERS.md).
import '../packages/protocol/src/polyfill.js';
