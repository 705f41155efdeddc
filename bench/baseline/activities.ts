/**
 * The hand-written baseline's activities: ten trivial steps, each receiving the chain data and
 * returning it with `chain.at` advanced — the same payload whenflow's steps see in `data`.
 */
export interface ChainData {
  chain: { at: number };
}

const advance = async (data: ChainData): Promise<ChainData> => ({ ...data, chain: { ...data.chain, at: data.chain.at + 1 } });

export const s01 = advance;
export const s02 = advance;
export const s03 = advance;
export const s04 = advance;
export const s05 = advance;
export const s06 = advance;
export const s07 = advance;
export const s08 = advance;
export const s09 = advance;
export const s10 = advance;

export const STEP_NAMES = ['s01', 's02', 's03', 's04', 's05', 's06', 's07', 's08', 's09', 's10'] as const;
