/** One line of a benchmark's report: a figure, and its ratio against the baseline measured in the same run. */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  ratio?: number;
  baseline?: string;
  goal?: string;
  met?: boolean;
}
