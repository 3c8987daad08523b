import type { ResolvedConfig } from '../../config/resolve.js';
import { ClusterDriver } from './cluster/driver.js';
import { type L2Driver, RedisDriver } from './driver.js';
import { SentinelDriver } from './sentinel.js';

/** The L2 driver for the configured deployment: one server, a Sentinel-managed primary, or a cluster. */
export function createL2Driver(config: ResolvedConfig): L2Driver {
  switch (config.topology.kind) {
    case 'sentinel':
      return new SentinelDriver(config);
    case 'cluster':
      return new ClusterDriver(config);
    default:
      return new RedisDriver(config);
  }
}
