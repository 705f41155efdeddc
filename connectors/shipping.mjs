/**
 * A shipping-rate service, computed locally so the sample runs offline. Steps call it deferred
 * (`into`), so each quote runs as its own activity with its own retries.
 */
export async function quote({ tier, items }) {
  const express = tier === 'premium';
  return { method: express ? 'express' : 'standard', days: express ? 1 : 4, price: (express ? 9 : 4) + items * 0.5 };
}
