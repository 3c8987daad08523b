// The values every library stores: a product record whose JSON text is about 1 KiB.

const DESCRIPTION =
  'Cafetière à piston en verre borosilicaté, filtre inox double maille, poignée ergonomique. ' +
  'Contenance un litre, idéale pour quatre tasses. Compatible lave-vaisselle (hors piston). ' +
  'Livrée avec une cuillère doseuse et un guide de préparation illustré.';

/** A product record of about 1 KiB of JSON; `id` makes each one distinct. */
export function productValue(id) {
  return {
    id,
    sku: `SKU-${String(id).padStart(8, '0')}`,
    asin: `B0${String(id * 7919).padStart(8, '0')}`,
    name: 'Cafetière à piston 1 L, verre et inox',
    description: DESCRIPTION,
    price: 29.9,
    currency: 'EUR',
    stock: 120,
    active: true,
    categories: ['cuisine', 'cafe', 'arts-de-la-table'],
    tags: ['best-seller', 'eco', 'promo-automne'],
    dimensions: { widthMm: 120, depthMm: 170, heightMm: 215, weightG: 640 },
    media: [
      { kind: 'image', url: `https://cdn.example.com/p/${id}/front.webp`, width: 1200, height: 1200 },
      { kind: 'image', url: `https://cdn.example.com/p/${id}/side.webp`, width: 1200, height: 1200 },
    ],
    supplier: { id: 311, name: 'Maison Dupont SARL', country: 'FR' },
    rating: { average: 4.6, count: 1532 },
    ean: `3${String(id).padStart(12, '0')}`,
    warehouse: 'LYS-02',
    createdAt: '2024-03-14T09:26:53.000Z',
    updatedAt: '2025-10-02T17:45:10.000Z',
  };
}

/** Length of the JSON text of `productValue(id)` for a typical id, in UTF-16 units. */
export const VALUE_JSON_LENGTH = JSON.stringify(productValue(12345)).length;

/** Keys `${prefix}${i}` for i in [0, count), built once so the measured loops do not concatenate. */
export function keys(prefix, count) {
  const out = new Array(count);
  for (let i = 0; i < count; i++) out[i] = `${prefix}${i}`;
  return out;
}

/**
 * Operation counts of the Redis-bound scenarios: the floor and cachette get enough operations for
 * stable percentiles; peers, 2 to 4 times slower per operation, fewer, to keep the run short.
 */
export function sized(quick, role, concurrency) {
  const peer = role === 'peer';
  if (concurrency === 1) {
    return quick ? { ops: peer ? 1_500 : 3_000, warmup: 500 } : { ops: peer ? 4_000 : 10_000, warmup: 1_500 };
  }
  return quick
    ? { ops: peer ? 4_000 : 8_000, warmup: 1_000 }
    : { ops: peer ? 10_000 : 30_000, warmup: 4_000 };
}
