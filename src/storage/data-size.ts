/**
 * What one key counts against MAX_DATA_BYTES beyond its key and value: the entry object, its
 * Map slot and its places in the insertion order and the expiry index. docs/STORAGE.md
 * ("Memory and cost") measured about 220 bytes of heap per key on top of key and value.
 */
export const ENTRY_OVERHEAD_BYTES = 200;

/**
 * The bytes a key counts against the data limit: key and value in UTF-8 (what a client sends
 * and the log stores) plus ENTRY_OVERHEAD_BYTES.
 */
export function entrySize(key: string, value: string): number {
  return entrySizeOfBytes(Buffer.byteLength(key), Buffer.byteLength(value));
}

/** The same, from the UTF-8 byte lengths of key and value when they are known already. */
export function entrySizeOfBytes(keyBytes: number, valueBytes: number): number {
  return ENTRY_OVERHEAD_BYTES + keyBytes + valueBytes;
}
