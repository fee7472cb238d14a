import { Command, Option } from 'commander';
import { answerOf } from '../api/plexus-api.client';
import { Column } from '../output/output-format';
import { CliSession, outputOption, print, printOutput } from './cli-session';

interface BatchJobRow {
  jobId: string;
  jobType: string;
  nodeId: string;
  moduleId: string;
  status: string;
  progress: unknown;
}

/** `plexus batch-jobs ls|get|cancel`. */
export function batchJobsCommand(session: CliSession): Command {
  const jobs = new Command('batch-jobs').description("batch jobs run by nodes' modules");
  const columns: Column<BatchJobRow>[] = [
    { header: 'job', value: (j) => j.jobId },
    { header: 'type', value: (j) => j.jobType },
    { header: 'node', value: (j) => j.nodeId },
    { header: 'module', value: (j) => j.moduleId },
    { header: 'status', value: (j) => j.status },
    { header: 'progress', value: (j) => j.progress },
  ];
  jobs
    .command('ls')
    .option('--node <node>')
    .option('--module <module>')
    .addOption(
      new Option('--status <status>').choices([
        'queued',
        'running',
        'succeeded',
        'failed',
        'cancelled',
      ]),
    )
    .addOption(outputOption())
    .action(async (opts) => {
      const list = await answerOf(
        session.client().GET('/batch-jobs', {
          params: { query: { nodeId: opts.node, moduleId: opts.module, status: opts.status } },
        }),
      );
      printOutput(list, opts.output, { rows: (l) => l.jobs, columns });
      for (const u of list.unanswered ?? [])
        process.stderr.write(`warning: no answer from ${JSON.stringify(u)}\n`);
    });
  jobs
    .command('get')
    .argument('<job>')
    .addOption(outputOption())
    .action(async (jobId: string, opts) => {
      const job = await answerOf(
        session.client().GET('/batch-jobs/{jobId}', { params: { path: { jobId } } }),
      );
      printOutput(job, opts.output, { rows: (j) => [j], columns });
    });
  jobs
    .command('cancel')
    .argument('<job>')
    .action(async (jobId: string) => {
      const job = await answerOf(
        session.client().POST('/batch-jobs/{jobId}/cancel', { params: { path: { jobId } } }),
      );
      print(`batch job ${jobId}: ${job.status}\n`);
    });
  return jobs;
}
