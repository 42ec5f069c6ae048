import path from 'node:path';

/** What every part of one test:deploy run shares: the checkout, and the names its containers carry. */
export const repo = path.resolve(__dirname, '../..');
/** Names this run's containers and network; removeLeftovers() reads the pid back. */
export const runId = `tkd${process.pid}`;
/** The label on every container and network of a run (its value is the runId). */
export const LABEL = 'ticketing.deploy-test';
/** The one podman network of the run, where the Kubernetes Service names are network aliases. */
export const network = `${runId}-net`;
