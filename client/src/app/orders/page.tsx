import Link from 'next/link';
import { redirect } from 'next/navigation';
import { currentUser, myOrders } from '@/lib/api-server';
import { describeStatus, formatPrice } from '@/lib/format';

export default async function MyOrders() {
  if ((await currentUser()) === null) redirect('/auth/signin');
  const orders = await myOrders();
  const now = Date.now();
  return (
    <>
      <h1>My orders</h1>
      {orders.length === 0 ? (
        <p className="muted">No orders yet.</p>
      ) : (
        <ul className="list" aria-label="Orders">
          {orders.map((order) => (
            <li key={order.id}>
              <span>
                <Link href={`/orders/${order.id}`}>{order.ticket.title}</Link> {formatPrice(order.ticket.price)}
              </span>
              <span className="status">{describeStatus(order.status, order.expiresAt, now)}</span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
