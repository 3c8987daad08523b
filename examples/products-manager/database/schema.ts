import { type Database, joinSql, sql } from './sql.js';

/** Product categories of the sample data (and the ones the API accepts). */
export const CATEGORIES = [
  'books',
  'toys',
  'garden',
  'kitchen',
  'sports',
  'music',
  'office',
  'beauty',
  'tools',
  'pets',
  'baby',
  'electronics',
] as const;

export const SUPPLIER_COUNT = 200;

const SCHEMA = sql`
CREATE TABLE IF NOT EXISTS app_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS suppliers (
  id int PRIMARY KEY, name text NOT NULL, country text NOT NULL);
CREATE TABLE IF NOT EXISTS products (
  id serial PRIMARY KEY,
  ean text NOT NULL UNIQUE,
  name text NOT NULL,
  category text NOT NULL,
  price_cents int NOT NULL CHECK (price_cents >= 0),
  stock int NOT NULL CHECK (stock >= 0),
  supplier_id int NOT NULL REFERENCES suppliers (id),
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS products_category ON products (category);
CREATE INDEX IF NOT EXISTS products_supplier ON products (supplier_id);
CREATE TABLE IF NOT EXISTS media_files (
  id serial PRIMARY KEY,
  product_id int NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  filename text NOT NULL,
  mime_type text NOT NULL,
  size_bytes int NOT NULL,
  width int,
  height int,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS media_files_product ON media_files (product_id);
CREATE TABLE IF NOT EXISTS import_jobs (
  id serial PRIMARY KEY,
  status text NOT NULL,
  format text NOT NULL,
  total_rows int NOT NULL,
  processed_rows int NOT NULL DEFAULT 0,
  inserted int NOT NULL DEFAULT 0,
  updated int NOT NULL DEFAULT 0,
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz);
-- the process running a job, '<host>:<pid>' (a job whose process is gone is failed, see api/imports.ts)
ALTER TABLE import_jobs ADD COLUMN IF NOT EXISTS owner text;
CREATE TABLE IF NOT EXISTS asin_mappings (
  ean text PRIMARY KEY, asin text NOT NULL, marketplace text NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  id bigserial PRIMARY KEY,
  product_id int NOT NULL,
  kind text NOT NULL,
  quantity int NOT NULL,
  price_cents int NOT NULL,
  occurred_at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS events_occurred_at ON events (occurred_at);
-- the EAN-13 check digit of a 12-digit number (weights 1, 3, 1, 3, …)
CREATE OR REPLACE FUNCTION ean13(base bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT b || ((10 - (SELECT sum(substr(b, i, 1)::int * (CASE WHEN i % 2 = 0 THEN 3 ELSE 1 END))
                      FROM generate_series(1, 12) i) % 10) % 10)::text
  FROM (SELECT lpad(base::text, 12, '0') AS b) s
$$;
`;

/**
 * The deterministic sample data, in bulk with `generate_series` (a few seconds for 50 000 products):
 * suppliers, products with valid EAN-13s, media files, past import jobs, EAN→ASIN mappings for four
 * products in five, and ten analytics events per product over the last 30 days.
 */
function seedStatements(products: number) {
  const categories = sql`ARRAY[${[...CATEGORIES]}]`;
  return [
    sql`INSERT INTO suppliers (id, name, country)
      SELECT g, 'Supplier ' || lpad(g::text, 3, '0'),
             (ARRAY['FR', 'DE', 'IT', 'ES', 'NL', 'BE', 'PL', 'CN', 'US'])[1 + g % 9]
      FROM generate_series(1, ${SUPPLIER_COUNT}) g`,
    sql`INSERT INTO products (id, ean, name, category, price_cents, stock, supplier_id, updated_at)
      SELECT g, ean13(376000000000 + g),
             (ARRAY['Oak', 'Steel', 'Linen', 'Cedar', 'Copper', 'Wool', 'Bamboo', 'Glass', 'Clay', 'Cotton',
                    'Marble', 'Walnut', 'Paper'])[1 + g % 13] || ' ' ||
             (ARRAY['Chair', 'Lamp', 'Kettle', 'Notebook', 'Ball', 'Brush', 'Basket', 'Speaker', 'Mug', 'Shelf',
                    'Puzzle', 'Blanket', 'Clock', 'Planter', 'Knife', 'Scarf', 'Drone'])[1 + (g / 13) % 17] ||
             ' #' || g,
             (${categories})[1 + (g * 7) % ${CATEGORIES.length}],
             199 + (g::bigint * 7919) % 49800,
             (g * 31) % 250,
             1 + (g * 13) % ${SUPPLIER_COUNT},
             timestamptz '2026-01-01 00:00:00+00' + make_interval(mins => g)
      FROM generate_series(1, ${products}) g`,
    sql`SELECT setval(pg_get_serial_sequence('products', 'id'), ${products})`,
    sql`INSERT INTO media_files (product_id, filename, mime_type, size_bytes, width, height)
      SELECT g, 'product-' || g || '-main.jpg', 'image/jpeg', 40000 + (g * 97) % 400000, 1200, 1200
      FROM generate_series(1, ${products}) g
      UNION ALL
      SELECT g, 'product-' || g || '-manual.pdf', 'application/pdf', 100000 + (g * 89) % 900000, NULL, NULL
      FROM generate_series(2, ${products}, 2) g`,
    sql`INSERT INTO import_jobs (status, format, total_rows, processed_rows, inserted, updated, error,
                                 created_at, started_at, finished_at)
      SELECT CASE WHEN g % 6 = 0 THEN 'failed' ELSE 'done' END, CASE WHEN g % 2 = 0 THEN 'csv' ELSE 'json' END,
             1000 * g, CASE WHEN g % 6 = 0 THEN 500 * g ELSE 1000 * g END,
             CASE WHEN g % 6 = 0 THEN 0 ELSE 600 * g END, CASE WHEN g % 6 = 0 THEN 0 ELSE 400 * g END,
             CASE WHEN g % 6 = 0 THEN 'supplier 999 does not exist' END,
             now() - make_interval(days => 13 - g), now() - make_interval(days => 13 - g),
             now() - make_interval(days => 13 - g) + make_interval(secs => 5 * g)
      FROM generate_series(1, 12) g`,
    sql`INSERT INTO asin_mappings (ean, asin, marketplace)
      SELECT ean13(376000000000 + g), 'B0' || upper(lpad(to_hex((g::bigint * 2654435761) % 4294967296), 8, '0')),
             (ARRAY['amazon.fr', 'amazon.de', 'amazon.it'])[1 + g % 3]
      FROM generate_series(1, ${products}) g
      WHERE g % 5 <> 0`,
    sql`INSERT INTO events (product_id, kind, quantity, price_cents, occurred_at)
      SELECT 1 + (g::bigint * 7919) % ${products},
             CASE WHEN (g::bigint * 48271) % 97 < 5 THEN 'order' WHEN (g::bigint * 48271) % 97 < 20 THEN 'cart'
                  ELSE 'view' END,
             1 + g % 3,
             199 + (g::bigint * 37) % 49800,
             date_trunc('day', now()) - make_interval(mins => (g * 13) % 43200)
      FROM generate_series(1, ${products * 10}) g`,
    sql`INSERT INTO app_meta (key, value) VALUES ('seeded_products', ${String(products)})`,
  ];
}

/** Creates the schema if needed and seeds it on the first start; returns the products seeded now (0 if already there). */
export async function prepareDatabase(db: Database, products: number): Promise<number> {
  await db.query(SCHEMA);
  const seeded = await db.one<{ value: string }>(
    sql`SELECT value FROM app_meta WHERE key = 'seeded_products'`,
  );
  if (seeded) return 0;
  // one simple-protocol query runs as one implicit transaction: an interrupted seed leaves nothing behind
  await db.query(joinSql(seedStatements(products), ';\n'));
  await db.query(sql`ANALYZE`);
  return products;
}
