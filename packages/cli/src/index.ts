/** @thresh/cli: the `thresh` command. It maps flags to options and calls client and node. */
export { buildProgram, main } from './main.js';
