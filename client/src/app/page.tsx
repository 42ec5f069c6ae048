import Link from 'next/link';
import { ticketPage } from '@/lib/api-server';
import { formatPrice } from '@/lib/format';

/** The tickets for sale, a page at a time (the API's cursor is carried in the URL). */
export default async function Home({ searchParams }: { searchParams: Promise<{ cursor?: string | string[] }> }) {
  const { cursor } = await searchParams;
  const page = await ticketPage(typeof cursor === 'string' && cursor !== '' ? cursor : undefined);
  return (
    <>
      <h1>Tickets for sale</h1>
      {page.tickets.length === 0 ? (
        <p className="muted">No tickets for sale right now.</p>
      ) : (
        <ul className="list" aria-label="Tickets">
          {page.tickets.map((ticket) => (
            <li key={ticket.id}>
              <Link href={`/tickets/${ticket.id}`}>{ticket.title}</Link>
              <span>{formatPrice(ticket.price)}</span>
            </li>
          ))}
        </ul>
      )}
      <nav aria-label="Pages">
        {cursor !== undefined && <Link href="/">First page</Link>}{' '}
        {page.nextCursor !== null && <Link href={`/?cursor=${encodeURIComponent(page.nextCursor)}`}>Next page</Link>}
      </nav>
    </>
  );
}
