/**
 * Keys ordered by the revision that created them, which is their insertion order: an update
 * keeps a key's createRevision, a re-creation takes a new, larger one.
 *
 * Kept in chunks of a few hundred entries so that inserting, removing and seeking cost a
 * binary search plus a short splice, whatever the size of the store; a plain sorted array
 * would make every removal move up to a million elements.
 */
const CHUNK_SIZE = 512;

interface Chunk {
  revisions: number[];
  keys: string[];
}

export class InsertionOrder {
  private chunks: Chunk[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  insert(createRevision: number, key: string): void {
    this.count++;
    const last = this.chunks[this.chunks.length - 1];
    if (!last || last.revisions[last.revisions.length - 1] < createRevision) {
      // Live writes always create at the newest revision: the fast path.
      if (!last || last.revisions.length >= CHUNK_SIZE) {
        this.chunks.push({ revisions: [createRevision], keys: [key] });
      } else {
        last.revisions.push(createRevision);
        last.keys.push(key);
      }
      return;
    }
    const chunkIndex = this.chunkFor(createRevision);
    const chunk = this.chunks[chunkIndex];
    const at = lowerBound(chunk.revisions, createRevision);
    chunk.revisions.splice(at, 0, createRevision);
    chunk.keys.splice(at, 0, key);
    if (chunk.revisions.length > CHUNK_SIZE * 2) {
      const half = chunk.revisions.length >> 1;
      this.chunks.splice(chunkIndex + 1, 0, {
        revisions: chunk.revisions.splice(half),
        keys: chunk.keys.splice(half),
      });
    }
  }

  remove(createRevision: number): void {
    if (this.chunks.length === 0) return;
    const chunkIndex = this.chunkFor(createRevision);
    const chunk = this.chunks[chunkIndex];
    const at = lowerBound(chunk.revisions, createRevision);
    if (chunk.revisions[at] !== createRevision) return;
    chunk.revisions.splice(at, 1);
    chunk.keys.splice(at, 1);
    this.count--;
    if (chunk.revisions.length === 0) this.chunks.splice(chunkIndex, 1);
  }

  /** Yields [createRevision, key] in order, starting after `afterRevision`. */
  *after(afterRevision: number): Generator<[number, string]> {
    if (this.chunks.length === 0) return;
    let chunkIndex = this.chunkFor(afterRevision + 1);
    let at = lowerBound(this.chunks[chunkIndex].revisions, afterRevision + 1);
    // Re-seek after each yield: the consumer may remove entries while iterating.
    for (;;) {
      const chunk = this.chunks[chunkIndex];
      if (!chunk) return;
      if (at >= chunk.revisions.length) {
        chunkIndex++;
        at = 0;
        continue;
      }
      const revision = chunk.revisions[at];
      yield [revision, chunk.keys[at]];
      if (this.chunks[chunkIndex] !== chunk || chunk.revisions[at] !== revision) {
        chunkIndex = this.chunkFor(revision + 1);
        at = this.chunks[chunkIndex]
          ? lowerBound(this.chunks[chunkIndex].revisions, revision + 1)
          : 0;
      } else {
        at++;
      }
    }
  }

  /** Index of the chunk that holds, or would hold, `revision`. */
  private chunkFor(revision: number): number {
    let low = 0;
    let high = this.chunks.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.chunks[mid].revisions[0] <= revision) low = mid;
      else high = mid - 1;
    }
    return low;
  }
}

function lowerBound(sorted: number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (sorted[mid] < value) low = mid + 1;
    else high = mid;
  }
  return low;
}
