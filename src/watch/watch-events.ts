import { SubscriberOverflowError } from '../changes/change-stream.errors';
import { CommitUnit } from '../changes/commit-units';
import { Change } from '../storage/storage.repository';

/** A comment; clients ignore it, and it keeps proxies from closing an idle stream. */
export const HEARTBEAT_EVENT = ': keep-alive\n\n';

/**
 * One Server-Sent Event per change: `id` is the revision, so Last-Event-ID tells a
 * reconnecting client's position. No field can hold a line break: the type is one of four
 * words, and JSON text keeps line breaks escaped inside strings.
 */
export function changeEvent(change: Change): string {
  return `event: ${change.op}\nid: ${change.revision}\ndata: ${eventData(change)}\n\n`;
}

/**
 * The changes of one transaction (those the watch matches) as one event, so that a client never
 * sees part of one. `id` is the transaction's last revision: resuming after it never lands in
 * the middle of the transaction.
 */
export function txnEvent(unit: CommitUnit, changes: readonly Change[]): string {
  const { lastRevision } = unit;
  const data = `{"revision":${lastRevision},"changes":[${changes.map(eventData).join(',')}]}`;
  return `event: txn\nid: ${lastRevision}\ndata: ${data}\n\n`;
}

/**
 * The id is the last revision fully delivered, so an EventSource reconnecting with it as
 * Last-Event-ID resumes exactly at resumeFromRevision.
 */
export function overflowEvent(error: SubscriberOverflowError): string {
  const { message, resumeFromRevision } = error;
  const data = JSON.stringify({ error: message, resumeFromRevision });
  return `event: overflow\nid: ${resumeFromRevision - 1}\ndata: ${data}\n\n`;
}

/** Assembled as text: a put's value is already canonical JSON (see key-responses.ts). */
function eventData(change: Change): string {
  const head = `{"revision":${change.revision},"type":"${change.op}","key":${JSON.stringify(change.key)}`;
  switch (change.op) {
    case 'put':
      return `${head},"value":${change.value},"expiresAt":${isoTime(change.expiresAt)}}`;
    case 'ttl':
      return `${head},"expiresAt":${isoTime(change.expiresAt)}}`;
    case 'delete':
    case 'expire':
      return `${head}}`;
  }
}

function isoTime(epochMs: number | null): string {
  return epochMs === null ? 'null' : `"${new Date(epochMs).toISOString()}"`;
}
