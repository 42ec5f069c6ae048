import { Subjects, VersionConflictError } from '@ticketing/common';
import { closeTestMongo, connectTestMongo, eventually } from '@ticketing/common/testing';
import { changeTicket } from '../services/ticket-lifecycle';
import { Ticket, type TicketDoc } from '../models/ticket';
import { commitNewTicket, newId, startTickets, unpublishedOf, type TicketsHarness } from './harness';

let svc: TicketsHarness;

beforeAll(async () => {
  await connectTestMongo();
  await Ticket.init();
  svc = await startTickets();
});

afterAll(async () => {
  await svc.close();
  await closeTestMongo();
});

/** What another process's save looks like: a new version written between our read and our save. */
async function concurrentSellerEdit(ticket: TicketDoc, title: string): Promise<void> {
  await Ticket.collection.updateOne({ _id: ticket._id }, { $set: { title, priceCents: 3_000 }, $inc: { version: 1 } });
}

describe('changeTicket (how listeners and PUT store a change)', () => {
  it('reloads and applies the change on top of a write that landed between its read and its save', async () => {
    const ticket = await commitNewTicket(svc.relay);
    const ticketId = String(ticket._id);
    const orderId = newId();
    const seen: Array<{ title: string; version: number }> = [];

    const stored = await changeTicket(svc.relay, ticketId, async (t) => {
      seen.push({ title: t.title, version: t.version });
      if (seen.length === 1) await concurrentSellerEdit(t, 'Edited elsewhere');
      t.set('orderId', orderId);
      return true;
    });

    expect(seen).toEqual([
      { title: 'Concert', version: 0 },
      { title: 'Edited elsewhere', version: 1 },
    ]);
    expect(stored?.version).toBe(2);
    expect(await Ticket.findById(ticketId).lean()).toMatchObject({ title: 'Edited elsewhere', orderId, version: 2 });
    const event = await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId);
    expect(event).toMatchObject({ version: 2, title: 'Edited elsewhere', price: 30, orderId });
    // The event staged on the stale copy was never stored, so it is never published.
    await eventually(async () => expect(await unpublishedOf(ticketId)).toBe(0));
    expect(svc.probe.of(Subjects.TicketUpdated).filter((d) => d.id === ticketId)).toHaveLength(1);
  });

  it('gives up with VersionConflictError after its last attempt, storing nothing of its own', async () => {
    const ticket = await commitNewTicket(svc.relay);
    let attempts = 0;

    const change = changeTicket(
      svc.relay,
      String(ticket._id),
      async (t) => {
        attempts += 1;
        await concurrentSellerEdit(t, `Edit ${attempts}`);
        t.set('orderId', newId());
        return true;
      },
      3,
    );

    await expect(change).rejects.toBeInstanceOf(VersionConflictError);
    expect(attempts).toBe(3);
    const stored = await Ticket.findById(ticket._id).lean();
    expect(stored).toMatchObject({ title: 'Edit 3', version: 3 });
    expect(stored).not.toHaveProperty('orderId');
  });

  it('writes nothing when the change says there is nothing to do', async () => {
    const ticket = await commitNewTicket(svc.relay);

    const stored = await changeTicket(svc.relay, String(ticket._id), () => false);

    expect(stored?.version).toBe(0);
    expect((await Ticket.findById(ticket._id).lean())?.version).toBe(0);
  });

  it('returns null for a ticket that does not exist', async () => {
    expect(await changeTicket(svc.relay, newId(), () => true)).toBeNull();
  });
});
