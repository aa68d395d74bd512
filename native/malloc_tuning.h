// Keeps freed tensor storage in the process's heap instead of returning it to the OS.
#pragma once

namespace bp {

// Once per process, on glibc: tensors above 4 KiB get their own ArrayBuffer from malloc, and V8
// frees them only at GC, in bulk. With glibc's defaults, blocks from 128 KiB on are mmapped
// (and the dynamic threshold follows the largest block freed so far) and a free top of heap
// past 2x that is trimmed, so every output of a matmul in a loop lands on fresh pages: one page
// fault (and the kernel zeroing the page) per 4 KiB written. Measured with
// process.resourceUsage().minorPageFault around `a.matmul(b)` in a loop, float32: 64 faults
// per call at n = 256 (every page of the output), 899 at n = 1024; with these thresholds 27
// and 149. Does nothing when BACKPROP_MALLOC=system, or when GLIBC_TUNABLES sets a malloc
// tunable (the user's choice wins).
void tuneMallocOnce();

}  // namespace bp
