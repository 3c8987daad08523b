// Every adapter, in the order the tables list them. Worker processes import only the adapter they
// run (so a worker loads one library, not all six); the parent process loads them all.
const files = {
  'lru-cache': './lru-cache.js',
  'node-redis': './node-redis.js',
  cachette: './cachette.js',
  bentocache: './bentocache.js',
  cacheable: './cacheable.js',
  'cache-manager': './cache-manager.js',
};

/** One adapter, importing only its own library. */
export async function loadAdapter(name) {
  const file = files[name];
  if (!file) throw new Error(`unknown adapter ${name}`);
  return (await import(file)).default;
}

/** Every adapter, in table order. */
export function loadAdapters() {
  return Promise.all(Object.keys(files).map(loadAdapter));
}
