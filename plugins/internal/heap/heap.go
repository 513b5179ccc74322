// Package heap holds the policies' one concession to the sandbox's memory
// model: a wasm guest's Go heap never returns memory to the host, so after
// a huge statement its garbage is collected at once rather than left to
// fragment the instance's capped memory.
package heap

// Compact collects garbage now under wasm; natively it does nothing, since
// a native heap neither shrinks this way nor runs out at 128 MiB.
func Compact() { compact() }
