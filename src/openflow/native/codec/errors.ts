// Errors of the pure OpenFlow codec. Decoders throw only OfCodecError, so a caller can tell
// "the peer sent bytes we cannot parse" apart from bugs.
export class OfCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OfCodecError';
  }
}
