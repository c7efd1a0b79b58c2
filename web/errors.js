// errors.js - the one error type of the softprompt JS API.
//
// Every failure, from the C engine or from the JS layer, is a SoftpromptError with a
// stable .code string. C status codes keep their C names (src/common.h sp_status);
// the JS layer adds a few of its own (SP_ERR_WORKER, SP_ERR_IO, SP_ERR_NETWORK).

/** Error codes, by name. The C ones mirror sp_status in src/common.h. */
export const ErrorCodes = Object.freeze({
  SP_ERR_INVALID_ARG: 'SP_ERR_INVALID_ARG', // bad options or arguments
  SP_ERR_NOMEM: 'SP_ERR_NOMEM',             // an allocation failed
  SP_ERR_FORMAT: 'SP_ERR_FORMAT',           // not the expected format, malformed or truncated
  SP_ERR_UNSUPPORTED: 'SP_ERR_UNSUPPORTED', // unsupported architecture, tensor type or feature
  SP_ERR_SHAPE: 'SP_ERR_SHAPE',             // tensor shapes inconsistent with the metadata
  SP_ERR_TOKENIZER: 'SP_ERR_TOKENIZER',     // tokenizer missing, malformed or not matching
  SP_ERR_CONTEXT: 'SP_ERR_CONTEXT',         // sequence longer than the context
  SP_ERR_DATA: 'SP_ERR_DATA',               // training/eval data malformed or empty
  SP_ERR_NUMERIC: 'SP_ERR_NUMERIC',         // NaN or Inf met
  SP_ERR_TOO_LARGE: 'SP_ERR_TOO_LARGE',     // would not fit in memory
  SP_ERR_ABORTED: 'SP_ERR_ABORTED',         // cancelled by the caller
  SP_ERR_STATE: 'SP_ERR_STATE',             // call not valid in the current state (e.g. freed object)
  // JS layer only
  SP_ERR_WORKER: 'SP_ERR_WORKER',           // the engine's worker crashed or was terminated
  SP_ERR_IO: 'SP_ERR_IO',                   // a file could not be read or written
  SP_ERR_NETWORK: 'SP_ERR_NETWORK',         // a download failed (network error or HTTP status)
  SP_ERR_INTERNAL: 'SP_ERR_INTERNAL',       // a bug: an unexpected exception inside the engine
});

/** C sp_status numbers -> names (the engine asks the C side too; this is the fallback). */
export const C_STATUS_NAMES = [
  'SP_OK', 'SP_ERR_INVALID_ARG', 'SP_ERR_NOMEM', 'SP_ERR_FORMAT', 'SP_ERR_UNSUPPORTED',
  'SP_ERR_SHAPE', 'SP_ERR_TOKENIZER', 'SP_ERR_CONTEXT', 'SP_ERR_DATA', 'SP_ERR_NUMERIC',
  'SP_ERR_TOO_LARGE', 'SP_ERR_ABORTED', 'SP_ERR_STATE',
];

export class SoftpromptError extends Error {
  /**
   * @param {string} code one of ErrorCodes
   * @param {string} message one line naming the problem
   */
  constructor(code, message, options) {
    super(message, options);
    // an abort looks like the platform's (fetch, DOM): name 'AbortError'; see isAbort()
    this.name = code === 'SP_ERR_ABORTED' ? 'AbortError' : 'SoftpromptError';
    this.code = code;
  }

  /** Plain, structured-cloneable form (worker replies); a data error keeps its line and field. */
  toJSON() {
    const o = { code: this.code, message: this.message };
    if (this.line !== undefined) o.line = this.line;
    if (this.field !== undefined) o.field = this.field;
    return o;
  }

  /** Rebuild from a worker reply ({code, message[, line, field]}). Unknown shapes become SP_ERR_INTERNAL. */
  static from(obj) {
    if (obj instanceof SoftpromptError) return obj;
    if (obj && typeof obj === 'object' && typeof obj.code === 'string' && obj.code.startsWith('SP_ERR_')) {
      return withPlace(new SoftpromptError(obj.code, String(obj.message ?? obj.code)), obj.line, obj.field);
    }
    const msg = obj && typeof obj === 'object' && 'message' in obj ? String(obj.message) : String(obj);
    return new SoftpromptError(ErrorCodes.SP_ERR_INTERNAL, msg);
  }
}

/** True for an abort: a SoftpromptError SP_ERR_ABORTED, or any error named 'AbortError' (a
 *  DOMException from fetch or AbortSignal.abort()). */
export function isAbort(e) {
  return e != null && typeof e === 'object' && (e.name === 'AbortError' || e.code === ErrorCodes.SP_ERR_ABORTED);
}

/** Sets where a data error is: e.line (1-based line of the data) and e.field (e.g.
 *  "messages[1].content"), when known. Returns e. */
export function withPlace(e, line, field) {
  if (Number.isInteger(line) && line > 0) e.line = line;
  if (typeof field === 'string' && field !== '') e.field = field;
  return e;
}

/** Shorthand: throw a SoftpromptError. */
export function fail(code, message) {
  throw new SoftpromptError(code, message);
}
