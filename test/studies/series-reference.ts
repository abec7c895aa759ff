/** The PyTorch reference of a checkpoint series (reference/series.json, dynamo_series.json), shared by the series tests. */
export interface SeriesReference {
  models: string[];
  steps: number[];
  data: string;
  labels: string;
  samples: number;
  normalize: { mean: number[]; std: number[] };
  alphas: number[];
  pairs: { i: number; j: number; loss: number[]; accuracy: number[]; barriers: { loss: number; lossMidpoint: number; accuracy: number } }[];
  instability: { step: number; pairs: [number, number][]; loss: number[]; accuracy: number[] }[];
}
