import { Change } from '../storage/storage.repository';

/** What a held change costs beyond its key and value: the Change object and its ring slot. */
export const CHANGE_OVERHEAD_BYTES = 100;

/** The bytes a change counts against WATCH_HISTORY_BYTES and WATCH_QUEUE_BYTES. */
export function changeSize(change: Change): number {
  const key = Buffer.byteLength(change.key);
  const value = change.op === 'put' ? Buffer.byteLength(change.value) : 0;
  return CHANGE_OVERHEAD_BYTES + key + value;
}
