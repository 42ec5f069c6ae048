import { Publisher, Subjects, type ExpirationCompleteEvent } from '@ticketing/common';

export class ExpirationCompletePublisher extends Publisher<ExpirationCompleteEvent> {
  readonly subject = Subjects.ExpirationComplete;
}
