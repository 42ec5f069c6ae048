'use client';

import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { useHydrated } from '@/lib/use-hydrated';
import { send, splitErrors } from '@/lib/api-browser';
import type { ApiError, Ticket } from '@/lib/types';
import { Field, FormAlert } from './Field';

/**
 * Sell a ticket (POST /api/tickets) or edit one's own (PUT /api/tickets/:id). The price is sent as
 * typed (a number), so the API's validation (price > 0, at most two decimals) is the one rule.
 */
export function TicketForm({ ticket }: { ticket?: Ticket }) {
  const router = useRouter();
  const [title, setTitle] = useState(ticket?.title ?? '');
  const [price, setPrice] = useState(ticket === undefined ? '' : ticket.price.toFixed(2));
  const [errors, setErrors] = useState<ApiError[]>([]);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const hydrated = useHydrated();
  const editing = ticket !== undefined;

  const submit = async (event: FormEvent<HTMLFormElement>): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setSaved(false);
    const body = { title, price: price.trim() === '' ? null : Number(price) };
    const result = editing
      ? await send<Ticket>('PUT', `/api/tickets/${ticket.id}`, body)
      : await send<Ticket>('POST', '/api/tickets', body);
    setBusy(false);
    if (!result.ok) {
      setErrors(result.errors);
      return;
    }
    setErrors([]);
    if (editing) {
      setSaved(true);
      router.refresh();
    } else {
      router.push(`/tickets/${result.body.id}`);
    }
  };

  const { byField, general } = splitErrors(errors, ['title', 'price']);
  return (
    <form onSubmit={(event) => void submit(event)} noValidate aria-label={editing ? 'Edit ticket' : 'Sell a ticket'}>
      {editing ? <h2>Edit</h2> : <h1>Sell a ticket</h1>}
      <Field
        id="title"
        label="Title"
        value={title}
        onChange={(e) => setTitle(e.target.value)}
        errors={byField['title']}
      />
      <Field
        id="price"
        label="Price"
        inputMode="decimal"
        value={price}
        onChange={(e) => setPrice(e.target.value)}
        errors={byField['price']}
      />
      <FormAlert messages={general} />
      {saved && <p role="status">Saved.</p>}
      <button type="submit" disabled={!hydrated || busy}>
        {editing ? 'Save' : 'Sell ticket'}
      </button>
    </form>
  );
}
