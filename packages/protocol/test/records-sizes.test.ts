import { describe, expect, it } from 'vitest';
import { recordSizes } from '../src/records/index.js';

describe('record sizes', () => {
  it('3-of-5: every record and the grant (for docs/PROTOCOL.md)', () => {
    const s = recordSizes(3, 5);
    console.log('record sizes, 3-of-5 policy:', s);
    expect(s.card).toBe(67);
    expect(s.sealedKFrag).toBeLessThan(600);
    expect(s.policy).toBeLessThan(1024);
    // The capsule (105), the DEM's nonce and tag (40), and a few dozen bytes of envelope.
    expect(s.sealedMap - s.policyMap - 145).toBeGreaterThan(0);
    expect(s.sealedMap - s.policyMap - 145).toBeLessThan(48);
  });

  it('sizes are stable from run to run (fixed lengths, fixed clock)', () => {
    expect(recordSizes()).toEqual(recordSizes());
  });

  it('255-of-255 fits the caps', () => {
    const s = recordSizes(255, 255);
    console.log('record sizes, 255-of-255 policy:', s);
    expect(s.policy).toBeLessThan(16 * 1024);
    expect(s.policyMap).toBeLessThan(256 * 1024);
  });
});
