/** The API's shapes as the client reads them (see the HTTP API table in the README). */

export interface CurrentUser {
  id: string;
  email: string;
}

export interface Ticket {
  id: string;
  title: string;
  price: number;
  userId: string;
  version: number;
  orderId?: string;
  sold?: boolean;
}

export interface TicketPage {
  tickets: Ticket[];
  nextCursor: string | null;
}

export type OrderStatus = 'created' | 'awaiting:payment' | 'complete' | 'cancelled';

export interface Order {
  id: string;
  userId: string;
  status: OrderStatus;
  expiresAt: string;
  ticket: { id: string; title: string; price: number };
}

export interface ApiError {
  message: string;
  field?: string;
  code?: string;
}
