/** The bench's sizes, shared by its phases (BENCH_SECONDS shortens every load phase). */

export const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
export const CONNECTIONS = 10;
/** For the list phase, whose every query scans the collection on FerretDB (see phases/list-tickets.ts). */
export const LIST_CONNECTIONS = 2;
export const BUYERS = 200;
export const CONTENTION_ROUNDS = 3;
export const SCALING_EVENTS = 1_500;
/** The listing's goal: a page's p50, whatever the number of tickets (issue 19). */
export const LIST_GOAL_P50_MS = 20;
/** The size of the last phase's listing. */
export const LIST_LARGE_SIZE = Number(process.env['BENCH_LIST_TICKETS'] ?? 100_000);
