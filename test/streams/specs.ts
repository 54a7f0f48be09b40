import type { Payload } from './sources.js';

/** One record of a test batch: its ordering unit and payload, and optionally its fixed place in the log. */
export interface Spec {
  readonly unit: string;
  readonly payload: Payload;
  readonly sequence?: string;
  readonly offset?: number;
}
