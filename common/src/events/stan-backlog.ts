/**
 * What NATS Streaming still owes its consumers, from its monitoring endpoint: for every durable
 * queue group of every channel, how many messages it has not been sent or has not acked. The
 * migration to JetStream (docs/jetstream.md) switches the services once this is empty.
 */

export interface StanBacklog {
  channel: string;
  queueGroup: string;
  /** Messages of the channel the group has not been sent yet. */
  unsent: number;
  /** Messages sent to a member and not acked yet. */
  unacked: number;
}

interface ChannelsBody {
  channels?: Array<{
    name: string;
    last_seq: number;
    subscriptions?: Array<{ queue_name?: string; last_sent: number; pending_count: number }>;
  }>;
}

export async function stanBacklog(monitorUrl: string): Promise<StanBacklog[]> {
  const res = await fetch(`${monitorUrl}/streaming/channelsz?subs=1&limit=1024`);
  if (!res.ok) throw new Error(`${monitorUrl}/streaming/channelsz answered ${res.status}`);
  const body = (await res.json()) as ChannelsBody;
  const backlog: StanBacklog[] = [];
  for (const channel of body.channels ?? []) {
    const groups = new Map<string, { lastSent: number; unacked: number }>();
    for (const sub of channel.subscriptions ?? []) {
      if (sub.queue_name === undefined || sub.queue_name === '') continue;
      const group = groups.get(sub.queue_name) ?? { lastSent: 0, unacked: 0 };
      group.lastSent = Math.max(group.lastSent, sub.last_sent);
      group.unacked += sub.pending_count;
      groups.set(sub.queue_name, group);
    }
    for (const [queueGroup, { lastSent, unacked }] of groups) {
      const unsent = channel.last_seq - lastSent;
      if (unsent > 0 || unacked > 0) backlog.push({ channel: channel.name, queueGroup, unsent, unacked });
    }
  }
  return backlog;
}
