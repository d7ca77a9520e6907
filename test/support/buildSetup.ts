import { buildIfStale } from '../../scripts/buildIfStale.js';

/** Builds the app when a source changed since the last build: the infra checks run the built lintInfra. */
export default function setup(): void {
  buildIfStale();
}
