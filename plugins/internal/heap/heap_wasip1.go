//go:build wasip1

package heap

import "runtime"

func compact() { runtime.GC() }
