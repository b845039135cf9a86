import { AgentStateReport, ModelStatePhase, subjects } from '@millwright/proto';
import { describe, expect, it } from 'vitest';
import { parseStateReport } from './state-ingest.js';

const subject = subjects.edge.state('plant-a', 'press-1');

function encode(over: Partial<AgentStateReport>): Uint8Array {
  return AgentStateReport.encode(
    AgentStateReport.fromPartial({
      agentId: 'press-1',
      siteId: 'plant-a',
      reportSeq: 3,
      state: { phase: ModelStatePhase.MODEL_STATE_PHASE_ACTIVE, version: '2.0.0' },
      desiredGeneration: 7,
      configGeneration: 6,
      ...over,
    }),
  ).finish();
}

describe('parseStateReport', () => {
  it('carries a refused config next to an active model, so the rollout can count the member failed', () => {
    const parsed = parseStateReport(subject, encode({ configError: 'config refused: cleaning.x is unknown' }));
    expect(parsed).toMatchObject({
      ok: true,
      row: {
        phase: 'active',
        version: '2.0.0',
        configGeneration: 6,
        configError: 'config refused: cleaning.x is unknown',
      },
    });
  });

  it('leaves configError out when the config was applied', () => {
    const parsed = parseStateReport(subject, encode({}));
    expect(parsed.ok && 'configError' in parsed.row).toBe(false);
  });

  it('refuses a report naming another agent than its subject', () => {
    expect(parseStateReport(subject, encode({ agentId: 'press-2' }))).toMatchObject({
      ok: false,
      code: 'identity_mismatch',
    });
  });
});
