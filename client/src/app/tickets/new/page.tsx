import { redirect } from 'next/navigation';
import { TicketForm } from '@/components/TicketForm';
import { currentUser } from '@/lib/api-server';

export default async function SellPage() {
  if ((await currentUser()) === null) redirect('/auth/signin');
  return <TicketForm />;
}
