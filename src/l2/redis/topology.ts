import type { ResolvedConfig } from '../../config/options.js';
import type { HooksFor, L2Driver } from '../driver.js';
import { ClusterDriver } from './cluster/driver.js';
import { RedisDriver } from './driver.js';
import { nodeName } from './nodes.js';
import { SentinelDriver } from './sentinel.js';

/**
 * The L2 driver for the configured deployment: one server, a Sentinel-managed primary, or a
 * cluster. `hooksFor` gives coherence's connection hooks (when it is on): once for one server or
 * Sentinel's primary (its connection follows the primary), once per primary of a cluster.
 */
export function createL2Driver(config: ResolvedConfig, hooksFor?: HooksFor): L2Driver {
  switch (config.topology.kind) {
    case 'sentinel':
      return new SentinelDriver(config, hooksFor?.(config.topology.name));
    case 'cluster':
      return new ClusterDriver(config, hooksFor);
    default:
      return new RedisDriver(config, hooksFor?.(nodeName(config.redis)));
  }
}
