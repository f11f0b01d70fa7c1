// Splits a TCP byte stream into whole OpenFlow messages. Pure state machine: push() takes any
// chunking of the stream and returns the complete messages so far, or an error once the stream
// is unusable (bad length or version); it never throws and keeps at most one partial message.
import { OFP_HEADER_LEN, OFP_VERSION } from './messages.js';

export interface SplitResult {
  messages: Buffer[];
  /** Set once the stream cannot be framed any more; later pushes return it again. */
  error?: Error;
}

export interface SplitterOptions {
  /**
   * Whether a header's version is acceptable for its type. Default: 0x04, and for HELLO and ERROR
   * (whose layout is the same in every version) any version 1..6, so negotiation can fail politely.
   */
  acceptVersion?: (version: number, type: number) => boolean;
}

const defaultAccept = (version: number, type: number): boolean =>
  version === OFP_VERSION || ((type === 0 || type === 1) && version >= 1 && version <= 6);

export class MessageSplitter {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed: Error | undefined;
  private readonly accept: (version: number, type: number) => boolean;

  constructor(opts: SplitterOptions = {}) {
    this.accept = opts.acceptVersion ?? defaultAccept;
  }

  /** Bytes held back waiting for the rest of a message. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): SplitResult {
    if (this.failed) return { messages: [], error: this.failed };
    const messages: Buffer[] = [];
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    while (this.buffered >= OFP_HEADER_LEN) {
      if (this.chunks[0]!.length < OFP_HEADER_LEN) this.coalesce(OFP_HEADER_LEN);
      const first = this.chunks[0]!;
      const version = first[0]!;
      const type = first[1]!;
      const length = first.readUInt16BE(2);
      if (length < OFP_HEADER_LEN) {
        return this.fail(messages, `message length ${length} is shorter than the ${OFP_HEADER_LEN}-byte header (type ${type}, xid ${first.readUInt32BE(4)})`);
      }
      if (!this.accept(version, type)) {
        return this.fail(messages, `unsupported OpenFlow version 0x${version.toString(16).padStart(2, '0')} in message type ${type}`);
      }
      if (this.buffered < length) break;
      if (first.length < length) this.coalesce(length);
      const head = this.chunks[0]!;
      messages.push(head.subarray(0, length));
      if (head.length === length) this.chunks.shift();
      else this.chunks[0] = head.subarray(length);
      this.buffered -= length;
    }
    return { messages };
  }

  private fail(messages: Buffer[], reason: string): SplitResult {
    this.failed = new Error(`OpenFlow framing error: ${reason}`);
    this.chunks = [];
    this.buffered = 0;
    return { messages, error: this.failed };
  }

  /** Merge leading chunks until the first holds at least n bytes (n <= buffered). */
  private coalesce(n: number): void {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const c = this.chunks.shift()!;
      parts.push(c);
      got += c.length;
    }
    this.chunks.unshift(Buffer.concat(parts, got));
  }
}
