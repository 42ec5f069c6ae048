/** The durable queue group every tickets listener joins: one delivery per event per service. */
export const QUEUE_GROUP_NAME = 'tickets-service';
