/** Rolling-element bearing geometry and the kinematic defect frequencies derived from it. */

export interface BearingGeometry {
  /** Number of rolling elements. */
  balls: number;
  /** Rolling-element diameter, any length unit (same as `pitchDiameter`). */
  ballDiameter: number;
  /** Pitch (cage) diameter, same unit as `ballDiameter`. */
  pitchDiameter: number;
  /** Contact angle in degrees; 0 for deep-groove ball bearings under radial load. */
  contactAngleDeg: number;
}

export type DefectKind = 'ftf' | 'bpfo' | 'bpfi' | 'bsf';
export const DEFECT_KINDS: readonly DefectKind[] = ['ftf', 'bpfo', 'bpfi', 'bsf'];

export type DefectFrequencies = Record<DefectKind, number>;

/** SKF 6205-2RS JEM, CWRU drive end (inches). */
export const SKF_6205: BearingGeometry = { balls: 9, ballDiameter: 0.3126, pitchDiameter: 1.537, contactAngleDeg: 0 };

/**
 * PRONOSTIA (FEMTO-ST) test bearing, mm: 13 rollers of 3.5 mm; pitch diameter is the mean of the
 * 29.1 mm outer and 22.1 mm inner race diameters given by Nectoux et al. (2012).
 */
export const PRONOSTIA: BearingGeometry = { balls: 13, ballDiameter: 3.5, pitchDiameter: 25.6, contactAngleDeg: 0 };

/**
 * Defect frequencies in Hz for a shaft turning at `shaftHz` with a stationary outer race.
 * BSF follows the CWRU convention (twice the ball spin frequency): a ball defect strikes both races
 * once per spin, and that is the line that shows in the envelope spectrum.
 */
export function defectFrequencies(g: BearingGeometry, shaftHz: number): DefectFrequencies {
  const r = (g.ballDiameter / g.pitchDiameter) * Math.cos((g.contactAngleDeg * Math.PI) / 180);
  const ftf = (shaftHz / 2) * (1 - r);
  return {
    ftf,
    bpfo: g.balls * ftf,
    bpfi: ((g.balls * shaftHz) / 2) * (1 + r),
    bsf: (g.pitchDiameter / g.ballDiameter) * shaftHz * (1 - r * r),
  };
}

export function rpmToHz(rpm: number): number {
  return rpm / 60;
}
