/** The durable queue group every payments listener joins: one delivery per event per service. */
export const QUEUE_GROUP_NAME = 'payments-service';
