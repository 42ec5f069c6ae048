// The transactional outbox: entries staged on the changed document (entry.ts), a relay that saves and
// publishes them (relay.ts), one checkpoint per relay instead of a write per event (checkpoints.ts,
// ledger.ts), and the tidier that pulls published entries off documents while idle (tidier.ts).
export { outboxPlugin, stageEvent, stripOutbox, type OutboxEntry, type WithOutbox } from './entry';
export { OUTBOX_CHECKPOINTS, countUnpublished, type OutboxCheckpoint, type OutboxDatabase } from './checkpoints';
export { OutboxRelay, type OutboxRelayOptions } from './relay';
