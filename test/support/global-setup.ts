import { startRecordingLeftovers } from './leftover-nodes';

/** Jest's global setup: test databases note their nodes from here on (see global-teardown.ts). */
export default function globalSetup(): void {
  startRecordingLeftovers();
}
