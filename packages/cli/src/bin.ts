#!/usr/bin/env node
// libp2p 3 needs Promise.withResolvers (Node 20 lacks it): load the polyfill before anything else.
import '@thresh/protocol/polyfill';

const { main } = await import('./main.js');
const code = await main(process.argv);
if (code !== 0) process.exit(code);
