/** The durable queue group of every orders listener: each event is handled once per service. */
export const QUEUE_GROUP_NAME = 'orders-service';
