//go:build !wasip1

package heap

func compact() {}
