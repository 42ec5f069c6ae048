/** The durable queue group every expiration listener joins: one delivery per event per service. */
export const QUEUE_GROUP_NAME = 'expiration-service';
