/**
 * Umbral's second generator U (UMBRAL.md "Hashing"): RFC 9380 hash_to_curve, suite
 * secp256k1_XMD:SHA-256_SSWU_RO_, message "POINT_U", DST "PARAMETERS". The constant is checked
 * against a fresh computation in the tests (params.test.ts), not at every start-up.
 */
export const U_HEX = '03079390d0fbe220fc34aab8ecbf49098098036820fadb98c03143e55db8ec73cd';

export const U_BYTES: Uint8Array = Uint8Array.from(U_HEX.match(/../g)!.map((b) => Number.parseInt(b, 16)));
