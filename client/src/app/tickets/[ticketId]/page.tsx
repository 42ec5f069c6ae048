import Link from 'next/link';
import { notFound } from 'next/navigation';
import { PurchaseButton } from '@/components/PurchaseButton';
import { TicketForm } from '@/components/TicketForm';
import { currentUser, ticket as getTicket } from '@/lib/api-server';
import { formatPrice } from '@/lib/format';

export default async function TicketPage({ params }: { params: Promise<{ ticketId: string }> }) {
  const { ticketId } = await params;
  const [ticket, user] = await Promise.all([getTicket(ticketId), currentUser()]);
  if (ticket === null) notFound();
  const isSeller = user !== null && user.id === ticket.userId;
  return (
    <>
      <div className="card">
        <h1>{ticket.title}</h1>
        <p>
          Price: <strong>{formatPrice(ticket.price)}</strong>
        </p>
        {ticket.sold === true ? (
          <p className="status">Sold</p>
        ) : ticket.orderId !== undefined ? (
          <p className="status">Reserved</p>
        ) : null}
        {!isSeller &&
          ticket.sold !== true &&
          (user === null ? (
            <p>
              <Link href="/auth/signin">Sign in</Link> to buy this ticket.
            </p>
          ) : (
            <PurchaseButton ticketId={ticket.id} />
          ))}
      </div>
      {isSeller && ticket.sold !== true && (
        <div className="card">
          <TicketForm ticket={ticket} />
        </div>
      )}
    </>
  );
}
