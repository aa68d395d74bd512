// Resizable ArrayBuffers (ES2024) for the hostile-argument tests, typed for the ES2022 lib the
// project compiles against.
export interface ResizableArrayBuffer extends ArrayBuffer {
  readonly resizable: boolean;
  resize(byteLength: number): void;
}

const Resizable = ArrayBuffer as unknown as new (
  bytes: number,
  opts: { maxByteLength: number },
) => ResizableArrayBuffer;

/** An ArrayBuffer of `bytes` that can be resized up to `maxBytes`. */
export function resizableBuffer(bytes: number, maxBytes: number): ResizableArrayBuffer {
  return new Resizable(bytes, { maxByteLength: maxBytes });
}

export function isResizable(b: ArrayBufferLike): b is ResizableArrayBuffer {
  return (b as Partial<ResizableArrayBuffer>).resizable === true;
}

/** A SharedArrayBuffer typed as the ArrayBuffer a typed-array constructor's overloads accept. */
export function sharedBuffer(bytes: number): ArrayBuffer {
  return new SharedArrayBuffer(bytes) as unknown as ArrayBuffer;
}
