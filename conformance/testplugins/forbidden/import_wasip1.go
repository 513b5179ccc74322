//go:build wasip1

package main

//go:wasmimport env something
func something(n int32)
