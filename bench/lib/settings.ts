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
/** The size of the orders list phase: orders of many buyers, 100 each (BENCH_LIST_ORDERS). */
export const LIST_ORDERS_LARGE_SIZE = Number(process.env['BENCH_LIST_ORDERS'] ?? 100_000);
/** The CPU an order may cost across every process of the stack (issue 19). */
export const ORDER_CPU_GOAL_MS = 10;
/** Propagation at 500/s: its p99 against the plain subscriber's at the rate the stack sustained. */
export const PROPAGATION_GOAL_RATIO = 1;
