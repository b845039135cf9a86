import type { SampleBlock } from '../../domain/channel.js';
import type { ScoreResult } from '../../domain/model.js';
import { IndicatorExtractor } from './indicators.js';
import type { BearingHealthModel } from './model.js';

/**
 * Window-level seam between the agent's pipeline stages and the pack: one synchronized window per
 * channel (e.g. one FEMTO snapshot) -> indicators -> model (commissioning, score, alarm).
 * `accept` is where the cleaning stage plugs in: a window it rejects is skipped, as live.
 */
export interface BearingPipelineDeps {
  model: BearingHealthModel;
  /** Cleaning verdict per block; defaults to finite-samples-only. */
  accept?: (block: SampleBlock) => boolean;
}

export class BearingPipeline {
  private readonly deps: BearingPipelineDeps;
  private readonly extractors: IndicatorExtractor[];
  private readonly perChannel: number;
  /** Last window's indicators in manifest input order. */
  readonly indicators: Float64Array;

  constructor(deps: BearingPipelineDeps) {
    this.deps = deps;
    const a = deps.model.artifact;
    this.extractors = a.channels.map(() => new IndicatorExtractor(a.indicators));
    this.perChannel = this.extractors[0]!.count;
    this.indicators = new Float64Array(this.perChannel * a.channels.length);
  }

  /**
   * Scores one window: `blocks[i]` is channel i of the artifact. Returns null when cleaning rejects
   * any block (the model's state does not advance).
   */
  onWindow(blocks: readonly SampleBlock[], shaftHz = this.deps.model.artifact.shaftHz, topK = 3): ScoreResult | null {
    const accept = this.deps.accept ?? finiteBlock;
    for (const b of blocks) if (!accept(b)) return null;
    blocks.forEach((b, i) => {
      this.extractors[i]!.compute(b.values, 0, 1, b.length, shaftHz, this.indicators, i * this.perChannel);
    });
    return this.deps.model.scoreAt(this.indicators, blocks[0]!.t0Ms, topK);
  }
}

function finiteBlock(b: SampleBlock): boolean {
  for (let i = 0; i < b.length; i++) if (!Number.isFinite(b.values[i]!)) return false;
  return b.length > 0;
}
