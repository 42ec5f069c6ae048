import Link from 'next/link';
import { notFound, redirect } from 'next/navigation';
import { OrderPayment } from '@/components/OrderPayment';
import { currentUser, order as getOrder } from '@/lib/api-server';
import { config } from '@/lib/config';
import { formatPrice } from '@/lib/format';

export default async function OrderPage({ params }: { params: Promise<{ orderId: string }> }) {
  const { orderId } = await params;
  if ((await currentUser()) === null) redirect('/auth/signin');
  const order = await getOrder(orderId);
  if (order === null) notFound();
  return (
    <div className="card">
      <h1>Order for {order.ticket.title}</h1>
      <p>
        Ticket: <Link href={`/tickets/${order.ticket.id}`}>{order.ticket.title}</Link>,{' '}
        {formatPrice(order.ticket.price)}
      </p>
      <OrderPayment order={order} publishableKey={config().stripePublishableKey} />
    </div>
  );
}
