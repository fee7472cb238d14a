import { JobSubmissionError } from '../job-store';
import { chunkCountProblem, JobType } from '../job-types';

interface SampleRowsParams {
  rows: number;
  chunkSize: number;
  [key: string]: number;
}

interface Range {
  from: number;
  to: number;
}

/** Writes `rows` numbered rows into plexus_batch_sample_rows, one range of numbers per chunk. */
export const sampleRowsJobType: JobType<SampleRowsParams> = {
  name: 'sample-rows',
  description:
    'Writes `rows` numbered rows (with an md5 digest and the process that wrote them) into the ' +
    'table plexus_batch_sample_rows of the module database, `chunkSize` rows per chunk. Shows how ' +
    'work is shared: each row records which process wrote it.',
  params: {
    rows: {
      type: 'integer',
      description: 'how many rows to write',
      default: 10_000,
      minimum: 1,
      maximum: 10_000_000,
    },
    chunkSize: {
      type: 'integer',
      description: 'rows per chunk',
      default: 500,
      minimum: 1,
      maximum: 100_000,
    },
  },
  async plan({ rows, chunkSize }, ctx) {
    // Refused before the ranges are built: 10,000,000 one-row chunks would fill the heap first.
    const problem = chunkCountProblem(Math.ceil(rows / chunkSize), ctx.maxChunks ?? Infinity);
    if (problem) throw new JobSubmissionError([`${problem} (params.rows / params.chunkSize)`]);
    const chunks: Range[] = [];
    for (let from = 0; from < rows; from += chunkSize)
      chunks.push({ from, to: Math.min(rows, from + chunkSize) });
    return chunks;
  },
  async runChunk(chunk, _params, ctx) {
    const { from, to } = chunk as Range;
    await ctx.client.query(
      `INSERT INTO plexus_batch_sample_rows (job_id, n, written_by, digest)
       SELECT $1::uuid, g, $2, md5($1::text || ':' || g) FROM generate_series($3::int, $4::int - 1) g`,
      [ctx.jobId, ctx.runnerId, from, to],
    );
  },
};
