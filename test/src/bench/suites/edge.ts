/** `pnpm bench edge`: the edge agent's hot paths (issue: edge agent). */
import { benchBuffer } from '../edge/buffer.js';
import { benchFullPipeline } from '../edge/full-pipeline.js';
import { benchInfer } from '../edge/infer.js';
import { benchPipeline } from '../edge/pipeline.js';
import { benchAgentRss } from '../edge/rss.js';
import { benchSync } from '../edge/sync.js';
import type { BenchContext } from '../report.js';

export async function run(ctx: BenchContext): Promise<void> {
  await benchFullPipeline(ctx);
  await benchPipeline(ctx);
  await benchInfer(ctx);
  await benchBuffer(ctx);
  await benchSync(ctx);
  await benchAgentRss(ctx);
}
