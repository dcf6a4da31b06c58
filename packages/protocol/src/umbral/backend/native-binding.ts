/**
 * The raw N-API addon of the `secp256k1` npm package (libsecp256k1). We call the addon itself,
 * not the package's index (which falls back to a pure-JS elliptic build when the addon is
 * missing) nor its checking wrapper: every method returns a status code, 0 meaning success.
 */
export interface NativeSecp256k1 {
  publicKeyCreate(output: Uint8Array, secretKey: Uint8Array): number;
  publicKeyConvert(output: Uint8Array, publicKey: Uint8Array): number;
  publicKeyNegate(output: Uint8Array, publicKey: Uint8Array): number;
  publicKeyCombine(output: Uint8Array, publicKeys: Uint8Array[]): number;
  publicKeyTweakMul(output: Uint8Array, publicKey: Uint8Array, tweak: Uint8Array): number;
  ecdsaSign(
    out: { signature: Uint8Array; recid: number | null },
    digest: Uint8Array,
    secretKey: Uint8Array,
    data: Uint8Array | undefined,
    noncefn: undefined,
  ): number;
  ecdsaVerify(signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): number;
  ecdsaRecover(output: Uint8Array, signature: Uint8Array, recid: number, digest: Uint8Array): number;
}

export type NativeLoader = () => NativeSecp256k1 | undefined;
