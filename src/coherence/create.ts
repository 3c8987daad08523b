import type { ResolvedConfig } from '../config/options.js';
import { ClusterCoherence } from './cluster-coherence.js';
import { Coherence } from './coherence.js';
import type { L1Coherence } from './l1-coherence.js';

/** The coherence of this configuration, or `undefined` when it is off (`'none'`, or no L1 to keep coherent). */
export function createCoherence(config: ResolvedConfig): L1Coherence | undefined {
  if (config.coherence.mode === 'none' || !config.l1.enabled || config.l1.ttl <= 0) return undefined;
  // tracking is per node on a cluster: one Coherence (subscriber, tracking) per primary
  if (config.topology.kind === 'cluster') return new ClusterCoherence(config, () => new Coherence(config));
  return new Coherence(config);
}
