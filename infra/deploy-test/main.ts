/**
 * `npm run test:deploy`: builds every image of the repository and runs the production images wired as
 * infra/k8s wires them, on one podman network, then drives the purchase flow through an Ingress
 * stand-in. What it proves and what still needs a real cluster: docs/operations.md ("Testing the
 * deployment"). Writes .deploy-results.json (numPassed, numFailed, checks, images) for .ci/run and
 * ends with the line "deploy: N passed, M failed".
 */
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appImages, buildImages, builtImages } from './app-images';
import { cleanUp, removeLeftovers } from './containers';
import { LABEL, network, repo, runId } from './context';
import { ensureNodeBase, imageSize, nodeImageOf, npmCaMounts } from './images';
import { buildStandIns } from './stand-ins';
import { startIngress } from './ingress';
import { loadManifests } from './manifests';
import { ensurePodman, podmanOk } from './podman';
import { log, record, writeResults } from './report';
import { checkPurchaseFlow, checkShutdown, startInfrastructure, startServices, waitForServices } from './wiring';

const resultsFile = path.join(repo, '.deploy-results.json');
const started = Date.now();

async function main(): Promise<void> {
  rmSync(resultsFile, { force: true });
  const confDir = path.join(repo, '.tools', 'deploy-test');
  const work = path.join(os.tmpdir(), `ticketing-deploy-${runId}`);
  mkdirSync(work, { recursive: true });
  const timings: Record<string, number> = {};
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      timings[name] = Math.round((Date.now() - t) / 1000);
    }
  };
  try {
    const podmanNote = await phase('podman', () => ensurePodman(confDir, log));
    record('podman available (runc, netavark)', true, podmanNote);
    await removeLeftovers();

    const manifests = loadManifests(path.join(repo, 'infra/k8s'));
    const apps = appImages(manifests);
    const base = nodeImageOf(path.join(repo, 'Dockerfile'));
    const baseNote = await phase('base image', () => ensureNodeBase(base, work, log));
    record(`base image ${base}`, true, baseNote);
    const qualifiedBase = base.includes('/') ? base : `docker.io/library/${base}`;
    const baseMB = Math.round((await imageSize(qualifiedBase)) / 1e6);
    await phase('builds', () => buildImages(apps, npmCaMounts(work), baseMB));

    const standIns = await phase('stand-ins', () =>
      buildStandIns(qualifiedBase, path.join(repo, '.tools/bin'), work, log),
    );
    const runnable = builtImages(apps);
    await podmanOk(['network', 'create', '--label', `${LABEL}=${runId}`, network]);
    try {
      await phase('infrastructure', () => startInfrastructure(manifests, standIns));
      const running = await phase('services', () => startServices(manifests, runnable));
      // The ingress resolves its backends' names when it starts: after the services' containers exist,
      // before they are ready (a service may call through the ingress while it starts).
      const ingress = await startIngress(manifests, standIns, work);
      await phase('readiness', () => waitForServices(running));
      await phase('purchase flow', () => checkPurchaseFlow(manifests, standIns, running, ingress));
      await phase('shutdown', () => checkShutdown(running));
    } finally {
      await cleanUp();
    }
  } catch (error) {
    record(
      'test:deploy ran to the end',
      false,
      error instanceof Error ? (error.stack ?? error.message) : String(error),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.exitCode = writeResults(resultsFile, started, timings) === 0 ? 0 : 1;
}

void main();
