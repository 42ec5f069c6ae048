// The transactional outbox: entries staged on the changed document (entry.ts), a relay that saves and
// publishes them (relay.ts), one checkpoint per relay instead of a write per event (ledger.ts,
// checkpoints.ts, checkpoint-writer.ts), and the tidier that pulls published entries off documents
// while idle (tidier.ts).
export { outboxPlugin, stageEvent, stripOutbox, type OutboxEntry, type WithOutbox } from './entry';
export { OUTBOX_CHECKPOINTS, countUnpublished, type OutboxCheckpoint, type OutboxDatabase } from './checkpoints';
export { type OutboxBacklog } from './ledger';
export { type OutboxRelayOptions } from './options';
export { OutboxRelay } from './relay';
export { RelayListener } from './relay-listener';
