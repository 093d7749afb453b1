import { PayloadTooLargeError } from "../../errors.js";

/** A count of bytes that may be held at once; `tryTake` refuses instead of waiting. */
export class ByteBudget {
  private used = 0;

  constructor(
    readonly limit: number,
    /** Says what ran out, in the error a refused take gives. */
    readonly refusal: string,
  ) {}

  get inUse(): number {
    return this.used;
  }

  tryTake(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}

/**
 * The bytes one task's image may use: its own cap, the request's total (never given back while the request
 * lasts) and the server-wide bytes in flight (given back by `release` once the task is predicted).
 * See docs/security.md (resource caps).
 */
export class ImageAllowance {
  private held = 0;

  constructor(
    private readonly perImage: number,
    private readonly request: ByteBudget,
    private readonly server: ByteBudget,
  ) {}

  /** Counts `bytes` more of this image; throws PayloadTooLargeError when any cap would be passed. */
  take(bytes: number): void {
    if (this.held + bytes > this.perImage)
      throw new PayloadTooLargeError(`the image is larger than ${this.perImage} bytes`);
    if (!this.request.tryTake(bytes)) throw new PayloadTooLargeError(this.request.refusal);
    if (!this.server.tryTake(bytes)) {
      this.request.release(bytes);
      throw new PayloadTooLargeError(this.server.refusal);
    }
    this.held += bytes;
  }

  release(): void {
    this.server.release(this.held);
    this.held = 0;
  }
}
